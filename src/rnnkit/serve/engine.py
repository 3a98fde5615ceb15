"""The decoder: one loop that steps every lane of one language model together.

A *lane* is one stream being decoded: a generation (``/v1/generate``) or a session append
(``/v1/sessions/{id}/append``). It has tokens to feed (the prompt or the appended text, then
each sampled token), an initial state (zeros, or the session's), and what ends it (a number of
tokens, a stop string, or nothing: an append that only wants the next-symbol distribution). The
decoder loop::

    admit the lanes that arrived (a long text is read first in one forward: the fast path)
    regroup the stepper if lanes joined or left
    tokens (n,) <- one pending token per lane          # prompt/text symbols, or the last sample
    logits (n, V) <- stepper.step(tokens)              # ONE batched cell step for all lanes
    per lane: a generated token just fed is emitted (with its probe value: the unit read while
              the model read that symbol); a lane with nothing left to feed samples its next
              token (lanes with equal sampling settings filtered together) or ends

so lanes join and leave between steps and every token of every lane costs one row of one
batched step. Events go out through ``deliver([(lane, event), ...])``, once per step. The
server runs the loop as a task of its event loop (:meth:`Decoder.run`), between the sends and
the request parsing, not on a thread of its own: on two cores a second Python thread spends
more time waiting for the GIL than it saves.

Events: ``{"type": "token", "text", "id"[, "value"]}`` per generated token (``text`` is what
may be shown now; it is empty while a stop string may be starting), then ``{"type": "done",
...}`` with the whole text, counts and timings (and, for a session, the final state and
next-symbol logits), or ``{"type": "error", "message"}``.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from rnnkit.infer.sampling import SamplingConfig, filter_logits
from rnnkit.infer.stopping import StopWatcher
from rnnkit.serve.steppers import stepper_for


@dataclass(frozen=True)
class Probe:
    """A unit to report at every generated token."""

    what: str                 # "h", "c" (LSTM) or a gate: i, f, o, g (LSTM), r, z, n (GRU)
    layer: int                # 0 = the layer next to the embedding
    unit: int                 # index in [0, H)


@dataclass
class Lane:
    """One stream in the decoder; built by the server, owned by the decoder once submitted."""

    feed: list[int]                       # tokens to read before anything is generated (>= 1)
    length: int = 0                       # tokens to generate after them (0: none)
    sampling: SamplingConfig = SamplingConfig(temperature=0.8)
    stop: tuple[str, ...] = ()            # stop strings (not shown)
    state: object = None                  # initial state (batch 1), None for zeros
    keep_state: bool = False              # a session: report the final state and logits
    probe: Probe | None = None
    queue: object = field(default_factory=queue.SimpleQueue)   # where its events go
    # -- kept by the decoder ------------------------------------------------------------------
    pending: collections.deque = field(default_factory=collections.deque)
    generated: int = 0
    fed_generated: bool = False           # the token read in the last step was a sample
    cancelled: bool = False
    done: bool = False
    submitted: float = 0.0
    first: float | None = None

    def __post_init__(self) -> None:
        self.pending = collections.deque(self.feed)
        self.watcher = StopWatcher(self.stop)
        # Each lane draws its uniforms from its own generator: a seeded request gets the same
        # draws whatever else is decoded with it (batched or not).
        self.uniform = random.Random(self.sampling.seed).random
        self.prompt_tokens = len(self.feed)

    def cancel(self) -> None:
        """Leave at the next step (the client went away)."""
        self.cancelled = True


def draw(probs: Tensor, uniforms: list[float]) -> list[int]:
    """Inverse-CDF sampling: row r of probs (g, V) gives the token whose cumulative-probability
    interval [F_{k-1}, F_k) holds ``uniforms[r] * F_V`` (so a token of probability 0, one that
    top-k or top-p removed, is never drawn). One batched search instead of one
    ``torch.multinomial`` with its own generator per stream (~60 us each on this machine)."""
    cdf = probs.cumsum(-1)                                               # (g, V)
    u = torch.tensor(uniforms, dtype=cdf.dtype)[:, None] * cdf[:, -1:]   # (g, 1)
    ids = torch.searchsorted(cdf, u, right=True)[:, 0]                   # (g,)
    return ids.clamp_(max=probs.shape[-1] - 1).tolist()


def put_events(pairs: list) -> None:
    for lane, event in pairs:
        lane.queue.put_nowait(event)


class Decoder:
    """Decodes the lanes of one language model: :meth:`run_step` is one turn of the loop;
    :meth:`run` drives it as a task of the server's event loop."""

    def __init__(self, model: nn.Module, tokenizer, *, batched: bool = True,
                 max_lanes: int = 64, prefill_from: int = 32,
                 deliver: Callable[[list], None] = put_events) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.stepper = stepper_for(model, batched)
        self.batched = batched
        self.max_lanes = max_lanes
        self.prefill_from = prefill_from    # texts this long are read in one forward first
        self.deliver = deliver
        self.lanes: list[Lane] = []
        self.arrivals: list[Lane] = []
        self.wake: asyncio.Event | None = None
        self.running = False
        self.steps = 0                       # batched steps run (for the load figures)
        self.rows = 0                        # lane-steps run

    @property
    def probes(self) -> tuple[str, ...]:
        return self.stepper.probes

    @property
    def busy(self) -> int:
        """Lanes being decoded or waiting to be, not counting those their clients left."""
        return sum(not lane.cancelled for lane in self.lanes) + len(self.arrivals)

    def submit(self, lane: Lane) -> bool:
        """Queue a lane; False when the decoder is full (the caller answers 503)."""
        if self.busy >= self.max_lanes:
            return False
        lane.submitted = time.perf_counter()
        self.arrivals.append(lane)
        if self.wake is not None:
            self.wake.set()
        return True

    async def run(self) -> None:
        """Step while there are lanes, sleep while there are none, until :meth:`stop` and no
        lane is left. Between two steps the event loop sends the events and reads requests:
        one thread for both, so the decoder never waits for the GIL."""
        self.wake, self.running = asyncio.Event(), True
        while self.running or self.lanes or self.arrivals:
            if not self.lanes and not self.arrivals:
                self.wake.clear()
                await self.wake.wait()
                continue
            arrivals, self.arrivals = self.arrivals, []
            try:
                self.run_step(arrivals)
            except Exception as e:    # a bug must not hang every client: tell them, go on
                message = f"decoding failed: {type(e).__name__}: {e}"
                self.deliver([(lane, {"type": "error", "message": message})
                              for lane in self.lanes + arrivals])
                self.lanes = []
                self.stepper.regroup([], [])
            await asyncio.sleep(0)

    def stop(self) -> None:
        """Let :meth:`run` return once the lanes in flight are done."""
        self.running = False
        if self.wake is not None:
            self.wake.set()

    def run_until_idle(self) -> None:
        """Step until every lane submitted is done (for use without an event loop)."""
        while self.lanes or self.arrivals:
            arrivals, self.arrivals = self.arrivals, []
            self.run_step(arrivals)

    def run_step(self, arrivals: list[Lane]) -> None:
        """Admit ``arrivals``, then one step of every lane (the loop body, callable alone)."""
        events: list = []
        keep = [i for i, lane in enumerate(self.lanes) if not lane.cancelled]
        joining = [lane for lane in arrivals if not lane.cancelled and self._admit(lane, events)]
        if len(keep) != len(self.lanes) or joining:
            self.stepper.regroup(keep, [lane.state for lane in joining])
            self.lanes = [self.lanes[i] for i in keep] + joining
        if self.lanes:
            self._step(events)
        if events:
            self.deliver(events)

    def _admit(self, lane: Lane, events: list) -> bool:
        """A long text is read in one forward now; True if the lane joins the batch."""
        if len(lane.pending) < self.prefill_from:
            return True
        with torch.inference_mode():
            ids = torch.tensor(list(lane.pending))[None, :]              # (1, T)
            logits, lane.state = self.model(ids, lane.state)             # (1, T, V)
        lane.pending.clear()
        return self._next(lane, logits[0, -1], events)

    def _step(self, events: list) -> None:
        lanes = self.lanes
        tokens = torch.tensor([lane.pending.popleft() for lane in lanes])      # (n,)
        fed = [lane.fed_generated for lane in lanes]
        logits = self.stepper.step(tokens)                                     # (n, V)
        self.steps += 1
        self.rows += len(lanes)
        want: list[int] = []
        for i, lane in enumerate(lanes):
            if fed[i]:
                self._emit(lane, i, int(tokens[i]), events)
            if lane.pending:
                continue
            if self._wants_sample(lane):
                want.append(i)
            else:
                self._finish(lane, i, logits[i], events)
        self._sample(want, logits, events)
        keep = [i for i, lane in enumerate(lanes) if not lane.done]
        if len(keep) != len(lanes):
            self.stepper.regroup(keep, [])
            self.lanes = [lanes[i] for i in keep]

    def _wants_sample(self, lane: Lane) -> bool:
        return lane.generated < lane.length and lane.watcher.stopped is None

    def _next(self, lane: Lane, logits: Tensor, events: list) -> bool:
        """After a prefill: sample the first token (True: the lane joins) or finish."""
        if self._wants_sample(lane):
            token = self._draw(lane, logits[None, :])
            lane.pending.append(token)
            lane.generated += 1
            lane.fed_generated = True
            return True
        self._finish(lane, None, logits, events)
        return False

    def _draw(self, lane: Lane, logits: Tensor) -> int:
        cfg = lane.sampling
        if cfg.temperature == 0:
            return int(logits.argmax(-1)[0])
        probs = filter_logits(logits.float(), cfg).softmax(-1)
        return draw(probs, [lane.uniform()])[0]

    def _sample(self, want: list[int], logits: Tensor, events: list) -> None:
        """The next token of each lane in ``want``: lanes with the same settings filtered
        and drawn together (:func:`draw`), each with a uniform from its own generator."""
        groups: dict[tuple, list[int]] = {}
        for i in want:
            cfg = self.lanes[i].sampling
            groups.setdefault((cfg.temperature, cfg.top_k, cfg.top_p), []).append(i)
        for (temperature, top_k, top_p), rows in groups.items():
            part = logits[rows]                                          # (g, V)
            if temperature == 0:
                drawn = part.argmax(-1).tolist()
            else:
                cfg = SamplingConfig(temperature, top_k, top_p)
                probs = filter_logits(part.float(), cfg).softmax(-1)     # (g, V)
                drawn = draw(probs, [self.lanes[i].uniform() for i in rows])
            for i, token in zip(rows, drawn):
                lane = self.lanes[i]
                lane.pending.append(token)
                lane.generated += 1
                lane.fed_generated = True

    def _emit(self, lane: Lane, row: int, token: int, events: list) -> None:
        if lane.first is None:
            lane.first = time.perf_counter()
        event = {"type": "token", "text": lane.watcher.feed(self.tokenizer.piece(token)),
                 "id": token}
        if lane.probe is not None:
            p = lane.probe
            event["value"] = self.stepper.probe(row, p.what, p.layer, p.unit)
        events.append((lane, event))
        lane.fed_generated = False

    def _finish(self, lane: Lane, row: int | None, logits: Tensor | None, events: list) -> None:
        """The lane's done event; a session's carries its state and next-symbol logits."""
        lane.done = True
        now = time.perf_counter()
        done = {"type": "done", "rest": lane.watcher.finish(), "text": lane.watcher.text,
                "stopped": lane.watcher.stopped, "tokens": lane.generated,
                "prompt_tokens": lane.prompt_tokens,
                "ttft_ms": None if lane.first is None else 1e3 * (lane.first - lane.submitted),
                "total_ms": 1e3 * (now - lane.submitted)}
        if lane.keep_state:
            done["state"] = lane.state if row is None else self.stepper.state(row)
            done["logits"] = None if logits is None else logits.detach().clone()
        events.append((lane, done))
