"""spaCy's greedy NER decoder, vectorised over a batch of Docs.

spaCy's ``EntityRecognizer`` scores each parse state with its network, then, in a compiled loop,
checks every one of its 74 BILUO moves for validity one state at a time and applies the best.
Profiling (README, "Decoding") put about two thirds of storyline's NER time in that loop: per-state
move checks and GIL work, not arithmetic. This module takes the same path as numpy operations over
the whole batch, with the same weights, the same features (the current token, the open entity's
first token and the token before the current one) and the same validity rules for Docs without
preset entities (Docs with preset entities go through spaCy's own decoder). Where no entity is
open, the two entity features are padding, so the move depends on the token alone and is found for
all tokens in one pass; only the tokens after a B (an entity going on) need its state
(``GreedyNER._decode``). The hidden-to-output product is summed in another order than spaCy's, so
two moves whose scores tie to within float rounding could come out differently; on the dev sets'
windows no entity differs (README), and ``tests/test_greedy_ner.py`` compares with spaCy.

The token vectors come from the model's own tok2vec, its embedding part run once per distinct token
of the batch (``_DistinctTokenEmbed``): the same vectors bit for bit, ~25 % less tok2vec work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BEGIN, _IN, _LAST, _UNIT, _OUT, _NEVER = range(6)
_KINDS = {"B": _BEGIN, "I": _IN, "L": _LAST, "U": _UNIT}


class _DistinctTokenEmbed:
    """The NER's ``tok2vec.predict`` with its embedding part (four hash embeddings of the token's
    NORM, PREFIX, SUFFIX and SHAPE, then a maxout layer and layer norm) run once per distinct
    feature row of the batch instead of once per token: those rows depend on the token alone, not
    its context, and a batch of news repeats most of its tokens ("the", "said", names). The
    context layers (the CNN) run as int8 products on onnxruntime with ``int8`` (``ner_int8.py``),
    else as the model's float32 layers; the projection as before. Falls back to the model's own
    ``predict`` when its layers are not laid out as in spaCy's English pipelines."""

    def __init__(self, tok2vec, int8: bool = False) -> None:
        self._model = tok2vec
        self._parts = None
        self._context = None
        try:
            body, to_array, project = tok2vec.layers
            embed, encode = body.layers
            extract, _, hashes, mix, _ = embed.layers
        except ValueError:
            return
        if extract.name != "extract_features" or to_array.name != "list2array":
            return
        self._parts = (extract, hashes, mix, encode, to_array, project)
        if int8:
            from storyline.enrich.ner_int8 import Int8Encoder

            self._context = Int8Encoder.build(encode)  # None: another layout, float32 then

    def __call__(self, docs) -> np.ndarray:
        if self._parts is None:
            return self._model.predict(docs)
        extract, hashes, mix, encode, to_array, project = self._parts
        features = extract.predict(docs)  # per Doc: (tokens, 4) uint64
        flat = np.ascontiguousarray(np.concatenate(features))
        rows = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        vectors = mix.predict(hashes.predict(flat[first]))[inverse.ravel()]
        bounds = np.cumsum([len(f) for f in features])[:-1]
        context = self._context or encode
        return project.predict(to_array.predict(context.predict(np.split(vectors, bounds))))


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

    ``int8``: the tok2vec's context layers in 8-bit integer arithmetic (``ner_int8.py``: about half
    the NER time, entity spans 0.999 the same as float32); False: spaCy's float32 entities.
    """

    def __init__(self, ner, int8: bool = False) -> None:
        self._ner = ner
        model = ner.model
        self._tok2vec = _DistinctTokenEmbed(model.get_ref("tok2vec"), int8)
        self._lower = model.get_ref("lower")
        if self._lower.get_dim("nF") != 3:
            raise ValueError("not an NER model: its transition model reads 3 tokens per state")
        upper = model.get_ref("upper")
        self._w_out = np.ascontiguousarray(upper.get_param("W").T)  # (hidden, classes)
        self._b_out = upper.get_param("b")
        self._bias = self._lower.get_param("b")  # (hidden, pieces)
        self._moves = _moves(ner)
        unseen = sorted(model.attrs.get("unseen_classes", ()))
        self._unseen = np.array(unseen, dtype=int)
        self._penalties = self._penalty_table()

    def __call__(self, docs) -> list[list[tuple[int, int, str]]]:
        docs = list(docs)
        out: list[list[tuple[int, int, str]]] = [[] for _ in docs]
        preset = {i for i, d in enumerate(docs) if d.has_annotation("ENT_IOB")}
        for i in preset:  # entities set beforehand constrain the moves: spaCy's own decoder
            out[i] = [(e.start, e.end, e.label_) for e in self._ner(docs[i]).ents]
        keep = [i for i, d in enumerate(docs) if len(d) and i not in preset]
        if not keep:
            return out
        batch = [docs[i] for i in keep]
        tokvecs = self._tok2vec(batch)
        # (tokens + 1, features, hidden, pieces); row 0 is the padding for a missing feature
        cached = self._lower.predict(tokvecs)
        for j, ents in enumerate(self._decode(batch, cached)):
            out[keep[j]] = [(s, e, self._moves.labels[lab]) for s, e, lab in ents]
        return out

    def _penalty_table(self) -> np.ndarray:
        """0 (valid) or -inf for each (state, token flags, move), spaCy's BILUO rules for Docs
        without preset entities: a move's validity depends only on the open entity's label (state
        0: none open) and on three facts about the current token (``_token_flags``)."""
        m = self._moves
        begin, inside, last, unit, out = (m.kind == k for k in (_BEGIN, _IN, _LAST, _UNIT, _OUT))
        table = np.full((len(m.labels), 8, len(m.kind)), -np.inf, dtype=np.float32)
        for open_label in range(len(m.labels)):
            same = m.label == open_label
            for flags in range(8):
                two_left, next_starts, space = bool(flags & 4), bool(flags & 2), bool(flags & 1)
                if open_label:
                    valid = (inside & same & two_left & (not next_starts)) | (last & same)
                else:
                    valid = out | (begin & two_left & (not next_starts) & (not space)) | (unit & (not space))
                table[open_label, flags, valid] = 0.0
        return table.reshape(len(m.labels) * 8, len(m.kind))

    @staticmethod
    def _token_flags(docs) -> np.ndarray:
        """Per cached row (token + 1): 4 if at least two tokens are left in the Doc (an entity may
        start or go on), 2 if a sentence starts at the next token (it may not), 1 if the token is
        whitespace (an entity may not start on it)."""
        arr = np.concatenate([d.to_array(["IS_SPACE", "SENT_START"]) for d in docs]).astype(np.int64)
        flags = (arr[:, 0] == 1).astype(np.int64)
        flags[:-1] += 4 + 2 * (arr[1:, 1] == 1)
        last = np.cumsum([len(d) for d in docs]) - 1  # a Doc's last token: nothing follows it
        flags[last] = arr[last, 0] == 1
        return np.concatenate(([0], flags))

    def _moves_of(self, current, first, before, penalty_rows: np.ndarray) -> np.ndarray:
        """The best valid move for each state, from its three features' rows of the precomputed
        first layer (current token, open entity's first token, token before), summed in spaCy's
        order with the bias."""
        x = current.copy()
        x += first
        x += before
        x += self._bias.reshape(-1)
        pieces = self._bias.shape[1]
        hidden = x[:, 0::pieces]
        for p in range(1, pieces):
            hidden = np.maximum(hidden, x[:, p::pieces])
        scores = hidden @ self._w_out
        scores += self._b_out
        if self._unseen.size:  # classes the model never saw in training: as spaCy, the lowest score
            scores[:, self._unseen] = scores.min()
        scores += self._penalties[penalty_rows]
        return scores.argmax(axis=1)

    def _decode(self, docs, cached: np.ndarray) -> list[list[tuple[int, int, int]]]:
        """spaCy's greedy BILUO decoding, in three vectorised passes instead of a loop over tokens.

        With no entity open, a state's features are the current token and two padding rows, so
        the move there depends on the token alone: (1) that move for every token at once. An
        entity opened by B at token t goes on by the same rule whatever came before t: (2) every
        B followed as if it were taken, all in lockstep, I until L (a few steps: the longest
        entity). (3) Per Doc, in token order, a B or U counts unless an entity before it is still
        open there, which is the path spaCy's loop takes. Sums are formed in the loop's order,
        so the scores are the same floats."""
        m = self._moves
        lengths = np.array([len(d) for d in docs])
        flags = self._token_flags(docs)
        flat = cached.reshape(len(cached), -1)  # per feature, (rows, hidden * pieces) views
        width = flat.shape[1] // 3
        c0, c1, c2 = (flat[:, f * width : (f + 1) * width] for f in range(3))
        # 1. every token's move with no entity open (row 0 of c1, c2: the missing feature)
        closed = self._moves_of(c0[1:], c1[0], c2[0], flags[1:])  # index: row - 1
        kind = m.kind[closed]
        # 2. each B's entity: its first token's row and label stay; I until L
        starts = np.flatnonzero(kind == _BEGIN)
        labels = m.label[closed[starts]]
        ends = np.zeros(len(starts), dtype=np.int64)
        going = np.arange(len(starts))
        step = 1
        while going.size:
            row = starts[going] + step + 1
            moves = self._moves_of(c0[row], c1[starts[going] + 1], c2[row - 1], labels[going] * 8 + flags[row])
            done = m.kind[moves] == _LAST
            ends[going[done]] = starts[going[done]] + step + 1
            going = going[~done]
            step += 1
        # 3. the entities on spaCy's path, per Doc in token order
        units = np.flatnonzero(kind == _UNIT)
        first = np.concatenate((starts, units))
        order = np.argsort(first, kind="stable")
        first = first[order]
        ends_of_docs = np.cumsum(lengths)
        doc = np.searchsorted(ends_of_docs, first, side="right")
        base = (ends_of_docs - lengths)[doc]
        after = np.concatenate((ends, units + 1))[order]
        label = np.concatenate((labels, m.label[closed[units]]))[order]
        found: list[list[tuple[int, int, int]]] = [[] for _ in docs]
        open_until, last_doc = -1, -1
        for d, a, b, lab, off in zip(doc.tolist(), first.tolist(), after.tolist(), label.tolist(), base.tolist()):
            if d != last_doc:
                open_until, last_doc = -1, d
            if a >= open_until:
                found[d].append((a - off, b - off, lab))
                open_until = b
        return found
