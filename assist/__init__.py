"""AI assist (ASSIST-1, ASSIST-2): live FAQ suggestions to agents, entities, extractive
summaries, category suggestions (``service``, ``entities``, ``summary``, ``knn``) and the
self-service widget bot (``bot``). Wired in by ``assist.component.AssistComponent``."""
