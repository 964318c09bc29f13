"""All of storyline's settings in one place.

Every tuned number says which dev set and bench script chose it. One configuration serves every
data set: there are no per-corpus thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class IngestConfig:
    max_file_bytes: int = 200 * 1024 * 1024  # larger single files are refused with a clear message
    max_article_chars: int = 2_000_000  # longer texts are cut (a runaway page is not an article)
    fetch_timeout_s: float = 15.0
    allow_private_urls: bool = False  # fetching never reaches private/loopback hosts unless allowed
    fetch_linked_pages: bool = True  # feeds that hold only teasers: fetch the article page
    teaser_max_words: int = 120


@dataclass(slots=True)
class CleanConfig:
    min_article_words: int = 5  # fewer words after cleaning: "empty article", skipped
    min_headline_words: int = 2  # the same for a headline-only item ("Apple sues Samsung" is news)
    max_text_chars: int = 2_000_000  # longer texts are cut at a paragraph (as IngestConfig.max_article_chars)
    max_html_chars: int = 5_000_000  # larger HTML pages are cut before extraction (news pages: < 2 MB)


@dataclass(slots=True)
class DedupConfig:
    shingle_words: int = 5
    num_perm: int = 128
    lsh_bands: int = 32  # must divide num_perm
    # Not tuned on a labelled set (none holds rewrites): chosen so that a hand-written paraphrase of
    # sample 000 (tests/data/rewrite_of_000.txt: lead cosine 0.89, every sentence >= 0.80) is a
    # rewrite while the four outlets of the samples' February event (lead cosine 0.66-0.80, no
    # sentence-level match share above 0.27) are not; tests/test_dedup.py checks both.
    near_jaccard: float = 0.80  # estimated Jaccard over 5-word shingles for a near-copy
    # Document (lead) cosine before sentence alignment is tried: 0.85 on 128-piece vectors; the 64-piece
    # ones read less and score pairs 0.03 lower on average, and 0.82 lets through the same share of
    # same-event pairs (18 % against 17 %, dev sets): rewrites found 85 -> 86 (basil 2, ECB+ 58, AllSides 26).
    rewrite_candidate_cos: float = 0.82
    rewrite_sentence_cos: float = 0.75  # a sentence counts as paraphrased above this
    rewrite_share: float = 0.50  # share of the shorter article's lead sentences paraphrased


@dataclass(slots=True)
class EmbedConfig:
    backend: str = "auto"  # "onnx" (int8, fast), "torch", or "auto" (onnx when available)
    max_tokens: int = 128  # word pieces read of a sentence (dedup, synthesis) or a search query
    # Word pieces read of an article's title and lead for its vector (clustering, rewrite gate):
    # the first ~45 words name the happening, later ones add background that makes two events of
    # one story alike. Dev sets, everything else unchanged: 128 -> 64 lifts ECB+ 0.885 -> 0.893 and
    # AllSides 0.894 -> 0.910 (basil 1.000, UCI headlines 0.731 both), and halves the MiniLM work.
    lead_tokens: int = 64
    batch_size: int = 32
    threads: int = 2


@dataclass(slots=True)
class EnrichConfig:
    # NER is single-threaded: two worker processes enrich 1.8x faster on 2 cores (600 articles of
    # 500 words: 21.9 s -> 12.1 s, worker start-up included); below parallel_min_articles the ~3 s
    # start-up of the workers costs more than it saves.
    workers: int = 2
    parallel_min_articles: int = 400
    chunk: int = 64  # articles per worker task


@dataclass(slots=True)
class ClusterConfig:
    # "dev sets" below: tuned jointly, one setting for all, on basil-dev, ecbplus-dev and allsides-dev
    # by a grid search script over cluster_events with cached MiniLM vectors of those files (kept out
    # of the repo), then checked with `storyline eval events`.
    candidates: int = 30  # nearest articles retrieved per new article (faiss)
    exact_search_max: int = 5000  # articles clustered at once above which faiss searches an HNSW graph
    window_days: float = 7.0  # articles further apart in known dates are not compared
    join_threshold: float = 0.25  # best event's linkage to join it (dev sets above)
    merge_threshold: float = 0.45  # two events a bridge article fits merge above this linkage
    storyline_threshold: float = 0.45  # event-centroid similarity that links two events: set by hand
    #   (the samples' two Paris summits link); not tuned, as no data set labels storylines
    storyline_embed_weight: float = 0.5  # rest is TF-IDF centroid cosine
    embed_weight: float = 0.35  # MiniLM cosine share of the pair similarity (dev sets above)
    names_weight: float = 0.2  # names-and-numbers TF-IDF share; the rest is TF-IDF over words
    time_decay_days: float = 1.0  # days to the event's nearest dated report for the full penalty
    time_penalty: float = 0.1  # (dev sets above: allsides-dev wants more, basil/ecbplus less)
    year_penalty: float = 0.2  # pair whose known or text-read years are 2+ apart (ecbplus-dev)
    weekday_penalty: float = 0.2  # undated article, lead weekdays 2+ days off its event's (seeds; dev neutral)
    rich_words: float = 30.0  # shorter texts lean on MiniLM (uci-headlines 0.505 -> 0.77; dev sets even)
    refine_rounds: int = 2  # second looks at a batch's articles (ecbplus-dev +0.01, basil-dev +0.004)
    # Quiet events close and leave the hot set (never loaded again, see pipeline.py): an event whose
    # newest dated report is more than close_after_days older than the newest date the store has seen
    # (twice the window: a report that arrives up to a week late still finds its event), or, with no
    # dated member, that no article joined among the last close_after_articles ingested. Not tuned:
    # the dev sets are clustered in one batch, where closing changes nothing.
    close_after_days: float = 14.0
    close_after_articles: int = 5000


@dataclass(slots=True)
class WatchConfig:
    """``storyline watch``: polling live feeds. Defaults are for public news feeds."""

    interval_s: float = 300.0  # most news feeds update a few times an hour; 5 min is fresh yet polite
    host_delay_s: float = 1.0  # at least this long between two requests to one host (crawler etiquette)
    host_concurrency: int = 2  # at most this many requests in flight to one host, so one site is never flooded
    workers: int = 8  # requests in flight in all: a slow host must not stall the others
    timeout_s: float = 15.0  # connect/read timeout per request: a hanging server costs at most this (x2 in all)
    retries: int = 2  # quick retries of a dropped connection or 5xx/429 within one poll (blips are common)
    retry_delay_s: float = 2.0  # first quick retry after this, doubling; not for timeouts (a hang hangs again)
    backoff_s: float = 60.0  # a feed that failed a poll waits this long, doubling per failure (not hammered)
    backoff_max_s: float = 3600.0  # ...but is tried at least hourly, so a feed that comes back is picked up
    entry_attempts: int = 5  # a linked page that fails is retried (with the same back-off) this many times


@dataclass(slots=True)
class Config:
    ingest: IngestConfig = field(default_factory=IngestConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    progress: bool = True
    synthesize: bool = True  # titles, cited summaries and source comparison per event
