"""Knowledge base (KB-1, KB-2): FAQ articles and hybrid search. Not built yet (issue 5)."""
