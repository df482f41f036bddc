"""Random sequences of agent and contact events never break the ACD's invariants."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hub.acd import (
    Abandoned,
    Acd,
    AcdError,
    AgentConfig,
    Assigned,
    Channel,
    ContactRequest,
    Overflowed,
    OverflowStep,
    OverflowTarget,
    QueueConfig,
    Released,
    Strategy,
)
from hub.acd.invariants import check_invariants

AGENTS = ("a0", "a1", "a2", "a3")
QUEUES = ("q1", "q2", "q3")
agent_ids = st.sampled_from(AGENTS)
delays = st.sampled_from([0.0, 0.0, 1.0, 5.0, 12.0, 25.0])


class AcdMachine(RuleBasedStateMachine):
    @initialize(
        s1=st.sampled_from(list(Strategy)),
        s2=st.sampled_from([Strategy.RING_ALL, Strategy.LONGEST_IDLE, Strategy.ROUND_ROBIN]),
        s3=st.sampled_from(list(Strategy)),
        seed=st.integers(0, 3),
    )
    def setup(self, s1, s2, s3, seed):
        self.acd = Acd(seed=seed)
        self.now = 0.0
        self.n = 0
        self.alive: set[str] = set()
        self.assigned: dict[str, str] = {}
        self.acd.configure_queue(QueueConfig(
            id="q1", name="one", strategy=s1, members=("a0", "a1", "a2"),
            required_skills={"gas": 1},
            overflow_steps=(OverflowStep(after_s=20, relax_skills=frozenset({"fr"})),
                            OverflowStep(after_s=40, level_delta=2)),
            max_wait_s=90, overflow=OverflowTarget("queue", "q2"), offer_timeout_s=15,
            owner_wait_s=10, sticky_wait_s=5,
        ))
        self.acd.configure_queue(QueueConfig(
            id="q2", name="two", strategy=s2, members=("a1", "a2", "a3"), max_length=6,
            overflow=OverflowTarget("queue", "q3"), wrapup_s=8, offer_timeout_s=10,
            noanswer_sets_not_ready=False,
        ))
        self.acd.configure_queue(QueueConfig(
            id="q3", name="three", strategy=s3, members=("a3", "a0"), max_length=5,
            max_wait_s=150, overflow=OverflowTarget("voicemail"),
        ))
        self.acd.configure_agent(AgentConfig("a0", skills={"gas": 3, "fr": 2}))
        self.acd.configure_agent(AgentConfig("a1", skills={"gas": 1}))
        self.acd.configure_agent(AgentConfig(
            "a2", skills={"gas": 2, "fr": 3},
            capacity={Channel.VOICE: 1, Channel.CHAT: 2, Channel.EMAIL: 1},
        ))
        self.acd.configure_agent(AgentConfig(
            "a3", skills={"en": 1}, voice_blocks_other_channels=False,
            capacity={Channel.VOICE: 2, Channel.CHAT: 3},
        ))

    # -- helpers ---------------------------------------------------------------------
    def advance(self, dt: float) -> float:
        self.now += dt
        return self.now

    def apply(self, call, *, releasing: str | None = None):
        try:
            out = call()
        except AcdError:
            return None
        terminal = set()
        for d in out:
            if isinstance(d, Assigned):
                assert d.contact_id not in self.assigned, f"{d.contact_id} assigned twice"
                self.assigned[d.contact_id] = d.agent_id
            elif isinstance(d, Released):
                assert self.assigned.pop(d.contact_id) == d.agent_id
                if d.contact_id == releasing:
                    terminal.add(d.contact_id)
            elif isinstance(d, Abandoned):
                terminal.add(d.contact_id)
            elif isinstance(d, Overflowed) and d.target.kind != "queue":
                terminal.add(d.contact_id)
        self.alive -= terminal
        for cid in terminal:
            assert self.acd.contact_location(cid) is None, f"{cid} should be gone"
        return out

    def contacts_in(self, *states: str) -> list[str]:
        out = []
        for cid in sorted(self.acd.contact_ids()):
            loc = self.acd.contact_location(cid)
            if loc.state in states:
                out.append(cid)
        return out

    # -- agent rules ------------------------------------------------------------------
    @rule(agent=agent_ids, dt=delays)
    def login(self, agent, dt):
        self.apply(lambda: self.acd.login(agent, self.advance(dt)))

    @rule(agent=agent_ids, dt=delays)
    def set_ready(self, agent, dt):
        self.apply(lambda: self.acd.set_ready(agent, self.advance(dt)))

    @rule(agent=agent_ids, dt=delays)
    def login_and_ready(self, agent, dt):
        self.apply(lambda: self.acd.login(agent, self.advance(dt)))
        self.apply(lambda: self.acd.set_ready(agent, self.now))

    @rule(agent=agent_ids, reason=st.sampled_from(["break", "lunch"]), dt=delays)
    def set_not_ready(self, agent, reason, dt):
        self.apply(lambda: self.acd.set_not_ready(agent, reason, self.advance(dt)))

    @rule(agent=agent_ids, dt=delays)
    def logout(self, agent, dt):
        self.apply(lambda: self.acd.logout(agent, self.advance(dt)))

    @rule(agent=agent_ids, dt=delays)
    def end_wrapup(self, agent, dt):
        self.apply(lambda: self.acd.end_wrapup(agent, self.advance(dt)))

    # -- contact rules ----------------------------------------------------------------
    @rule(
        queue=st.sampled_from(QUEUES),
        channel=st.sampled_from([Channel.VOICE, Channel.VOICE, Channel.CHAT, Channel.EMAIL]),
        priority=st.integers(0, 3),
        vip=st.booleans(),
        owner=st.none() | agent_ids,
        last=st.none() | agent_ids,
        extra=st.sampled_from([{}, {}, {"fr": 1}, {"fr": 3}, {"en": 1}]),
        dt=delays,
    )
    def enqueue(self, queue, channel, priority, vip, owner, last, extra, dt):
        self.n += 1
        cid = f"c{self.n}"
        req = ContactRequest(cid, channel, queue, priority=priority, vip=vip,
                             owner_agent_id=owner, last_agent_id=last, required_skills=extra)
        self.alive.add(cid)
        self.apply(lambda: self.acd.enqueue(req, self.advance(dt)))

    @rule(data=st.data(), dt=delays)
    def accept(self, data, dt):
        offered = self.contacts_in("offered")
        if not offered:
            return
        cid = data.draw(st.sampled_from(offered))
        agent = data.draw(st.sampled_from(self.acd.contact_location(cid).agent_ids))
        assert self.apply(lambda: self.acd.accept(cid, agent, self.advance(dt))) is not None

    @rule(data=st.data(), dt=delays)
    def reject(self, data, dt):
        offered = self.contacts_in("offered")
        if not offered:
            return
        cid = data.draw(st.sampled_from(offered))
        agent = data.draw(st.sampled_from(self.acd.contact_location(cid).agent_ids))
        assert self.apply(lambda: self.acd.reject(cid, agent, self.advance(dt))) is not None

    @rule(data=st.data(), dt=delays)
    def release(self, data, dt):
        assigned = self.contacts_in("assigned")
        if not assigned:
            return
        cid = data.draw(st.sampled_from(assigned))
        out = self.apply(lambda: self.acd.release(cid, self.advance(dt)), releasing=cid)
        assert out is not None

    @rule(data=st.data(), queue=st.none() | st.sampled_from(QUEUES),
          agent=st.none() | agent_ids, dt=delays)
    def transfer(self, data, queue, agent, dt):
        assigned = self.contacts_in("assigned")
        if not assigned or (queue is None and agent is None):
            return
        cid = data.draw(st.sampled_from(assigned))
        out = self.apply(
            lambda: self.acd.transfer(cid, self.advance(dt), queue_id=queue, agent_id=agent)
        )
        assert out is not None

    @rule(data=st.data(), dt=delays)
    def abandon(self, data, dt):
        pending = self.contacts_in("waiting", "held", "offered")
        if not pending:
            return
        cid = data.draw(st.sampled_from(pending))
        assert self.apply(lambda: self.acd.abandon(cid, self.advance(dt))) is not None

    @rule(dt=st.sampled_from([1.0, 10.0, 30.0, 100.0]))
    def tick(self, dt):
        self.apply(lambda: self.acd.tick(self.advance(dt)))

    @rule()
    def tick_at_next_deadline(self):
        nd = self.acd.next_deadline()
        if nd is not None:
            self.now = max(self.now, nd)
            self.apply(lambda: self.acd.tick(self.now))

    @rule(data=st.data(), agent=agent_ids, dt=delays)
    def bad_accept_changes_nothing(self, data, agent, dt):
        cid = data.draw(st.sampled_from(sorted(self.alive) + ["ghost"]))
        loc = self.acd.contact_location(cid)
        if loc is not None and loc.state == "offered" and agent in loc.agent_ids:
            return
        before = ([self.acd.agent_snapshot(a) for a in AGENTS],
                  [self.acd.waiting_contacts(q) for q in QUEUES])
        try:
            self.acd.accept(cid, agent, self.now + dt)
        except AcdError:
            pass
        else:
            raise AssertionError("accept without an offer must fail")
        after = ([self.acd.agent_snapshot(a) for a in AGENTS],
                 [self.acd.waiting_contacts(q) for q in QUEUES])
        assert before == after

    @rule(
        members=st.lists(agent_ids, unique=True, max_size=4),
        strategy=st.sampled_from(list(Strategy)),
        gas=st.integers(0, 3),
    )
    def reconfigure_queue(self, members, strategy, gas):
        self.apply(lambda: self.acd.configure_queue(QueueConfig(
            id="q1", name="one", strategy=strategy, members=tuple(members),
            required_skills={"gas": gas} if gas else {},
            overflow_steps=(OverflowStep(after_s=20, relax_skills=frozenset({"fr"})),),
            max_wait_s=90, overflow=OverflowTarget("queue", "q2"), offer_timeout_s=15,
        ), now=self.now))

    @rule(gas=st.integers(0, 3), fr=st.integers(0, 3))
    def reskill_agent(self, gas, fr):
        skills = {k: v for k, v in (("gas", gas), ("fr", fr)) if v}
        self.apply(lambda: self.acd.configure_agent(AgentConfig("a1", skills=skills),
                                                    now=self.now))

    # -- invariants -------------------------------------------------------------------
    @invariant()
    def engine_is_consistent(self):
        check_invariants(self.acd)

    @invariant()
    def no_contact_is_lost(self):
        assert set(self.acd.contact_ids()) == self.alive
        for cid in self.alive:
            loc = self.acd.contact_location(cid)
            assert loc is not None
            if loc.state == "assigned":
                assert self.assigned[cid] == loc.agent_ids[0]
            else:
                assert cid not in self.assigned

    @invariant()
    def deadline_is_not_in_the_past_after_tick(self):
        nd = self.acd.next_deadline()
        assert nd is None or nd > float("-inf")


AcdMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcdInvariants = AcdMachine.TestCase
