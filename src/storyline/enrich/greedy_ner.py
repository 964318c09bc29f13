"""spaCy's greedy NER decoder, vectorised over a batch of Docs.

spaCy's ``EntityRecognizer`` scores each parse state with its network, then, in a compiled loop,
checks every one of its 74 BILUO moves for validity one state at a time and applies the best.
Profiling (README, "Where the NER time still goes") put about two thirds of storyline's NER
time in that loop: per-state move checks and GIL work, not arithmetic. In the BILUO system every
move consumes exactly one token, so all the Docs of a batch advance in lockstep, token ``t`` at
step ``t``; this module runs those steps as numpy operations over the whole batch, with the same
weights, the same features (the current token, the open entity's first token and the token
before the current one) and the same validity rules for Docs without preset entities. The
entities equal spaCy's except where two moves' scores tie to within float rounding (the
hidden-to-output product is summed in a different order); ``bench/enrich_speed.py`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BEGIN, _IN, _LAST, _UNIT, _OUT, _NEVER = range(6)
_KINDS = {"B": _BEGIN, "I": _IN, "L": _LAST, "U": _UNIT}


@dataclass(frozen=True)
class _Moves:
    """The NER's moves as arrays: kind (B/I/L/U/O) and label index of each class."""

    kind: np.ndarray  # (n_classes,) int
    label: np.ndarray  # (n_classes,) int, 0 = no label
    labels: tuple[str, ...]  # label index -> name; index 0 is ""


def _moves(ner) -> _Moves:
    labels: list[str] = [""]
    kind, label = [], []
    for i in range(ner.moves.n_moves):
        name = ner.moves.get_class_name(i)
        if name == "O":
            kind.append(_OUT)
            label.append(0)
            continue
        k, _, lab = name.partition("-")
        if k not in _KINDS or not lab:
            kind.append(_NEVER)  # "U-" (blocked preset) and anything unknown: never chosen here
            label.append(0)
            continue
        if lab not in labels:
            labels.append(lab)
        kind.append(_KINDS[k])
        label.append(labels.index(lab))
    return _Moves(np.array(kind), np.array(label), tuple(labels))


class GreedyNER:
    """Entities of tokenised Docs from a spaCy pipeline's ``ner`` component.

    >>> spans = GreedyNER(nlp.get_pipe("ner"))(docs)  # per Doc: [(start_token, end_token, label)]
    """

    def __init__(self, ner) -> None:
        model = ner.model
        self._tok2vec = model.get_ref("tok2vec")
        self._lower = model.get_ref("lower")
        upper = model.get_ref("upper")
        self._w_out = np.ascontiguousarray(upper.get_param("W").T)  # (hidden, classes)
        self._b_out = upper.get_param("b")
        self._bias = self._lower.get_param("b")  # (hidden, pieces)
        self._moves = _moves(ner)
        unseen = sorted(model.attrs.get("unseen_classes", ()))
        self._unseen = np.array(unseen, dtype=int)
        m = self._moves
        self._is_begin = m.kind == _BEGIN
        self._is_in = m.kind == _IN
        self._is_last = m.kind == _LAST
        self._is_unit = m.kind == _UNIT
        self._is_out = m.kind == _OUT

    @property
    def labels(self) -> tuple[str, ...]:
        return self._moves.labels

    def __call__(self, docs) -> list[list[tuple[int, int, str]]]:
        docs = list(docs)
        out: list[list[tuple[int, int, str]]] = [[] for _ in docs]
        keep = [i for i, d in enumerate(docs) if len(d)]
        if not keep:
            return out
        batch = [docs[i] for i in keep]
        tokvecs = self._tok2vec.predict(batch)
        # (tokens + 1, features, hidden, pieces); row 0 is the padding for a missing feature
        cached = self._lower.predict(tokvecs)
        for j, ents in enumerate(self._decode(batch, cached)):
            out[keep[j]] = [(s, e, self._moves.labels[lab]) for s, e, lab in ents]
        return out

    def _decode(self, docs, cached: np.ndarray) -> list[list[tuple[int, int, int]]]:
        lengths = np.array([len(d) for d in docs])
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # Docs longest first: the ones still running at step t are a prefix of the batch.
        order = np.argsort(-lengths, kind="stable")
        lengths, offsets = lengths[order], offsets[order]
        n = len(docs)
        space = np.zeros(int(lengths.sum()) + 1, dtype=bool)  # by cached row (token + 1)
        next_starts = np.zeros_like(space)  # a sentence starts at the token after this row's
        for d, off in zip(docs, np.concatenate(([0], np.cumsum([len(x) for x in docs])[:-1]))):
            arr = d.to_array(["IS_SPACE", "SENT_START"])
            space[off + 1 : off + 1 + len(d)] = arr[:, 0] == 1
            next_starts[off + 1 : off + len(d)] = arr[1:, 1].astype(np.int64) == 1
        is_open = np.zeros(n, dtype=bool)
        ent_start = np.zeros(n, dtype=np.int64)  # token index within its Doc
        ent_label = np.zeros(n, dtype=np.int64)
        found: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        m = self._moves
        c0, c1, c2 = cached[:, 0], cached[:, 1], cached[:, 2]
        for t in range(int(lengths[0])):
            k = int(np.searchsorted(-lengths, -t, side="left"))  # docs with length > t
            op, off, st = is_open[:k], offsets[:k], ent_start[:k]
            row = off + t + 1
            row_first = np.where(op, off + st + 1, 0)
            row_prev = np.where(op, off + t, 0)
            hidden = ((c0[row] + c1[row_first]) + c2[row_prev] + self._bias).max(axis=-1)
            scores = hidden @ self._w_out + self._b_out
            if self._unseen.size:
                scores[:, self._unseen] = scores.min()
            two_left = lengths[:k] - t >= 2
            sp = space[row][:, None]
            nxt = next_starts[row][:, None]
            opn = op[:, None]
            same = ent_label[:k, None] == m.label[None, :]
            valid = (
                (self._is_out & ~opn)
                | (self._is_begin & ~opn & two_left[:, None] & ~nxt & ~sp)
                | (self._is_in & opn & two_left[:, None] & same & ~nxt)
                | (self._is_last & opn & same)
                | (self._is_unit & ~opn & ~sp)
            )
            best = np.where(valid, scores, -np.inf).argmax(axis=1)
            kind, label = m.kind[best], m.label[best]
            for j in np.flatnonzero(kind == _UNIT):
                found[j].append((t, t + 1, int(label[j])))
            for j in np.flatnonzero(kind == _LAST):
                found[j].append((int(ent_start[j]), t + 1, int(label[j])))
            begin = kind == _BEGIN
            is_open[:k] = (op & (kind == _IN)) | begin
            ent_start[:k] = np.where(begin, t, st)
            ent_label[:k] = np.where(begin, label, ent_label[:k])
        result: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for j, i in enumerate(order):
            result[i] = found[j]
        return result
