"""The metric core: every metric family as a partial result of any piece of the records, an
exact merge of partials, and a finalize step that reads the numbers off the merged state.

Functions here take and return LazyFrames (or small collected frames); nothing reads files,
collects a scan, or prints. ``report`` (in memory or spilled to partitions,
:mod:`botistat.engine.local`) and ``watch`` (:mod:`botistat.watch.monitor`) both run on them.

=====================  ==============================  ========================================
family (module)        partial -> merge                what a merge needs of the pieces
=====================  ==============================  ========================================
volume, tokens,        :func:`volume.volume` ->        nothing: sums, min/max (any split)
errors (``volume``)    :func:`volume.merge_volume`
cost (``cost``)        :func:`cost.cost_by_model` ->   nothing: sums per model (any split)
                       :func:`cost.merge_cost`
top conversations,     :func:`top.usage_by_owner`,     nothing for sums; cutting conversations
users and models       :func:`top.top_usage` ->        to a piece's first few needs whole
(``top``)              :func:`top.merge_top_usage`     conversations (``whole``)
time buckets           :func:`buckets.bucket_volume`,  nothing for sums; cutting conversations
(``buckets``)          :func:`buckets.bucket_          to a bucket's top few inside a piece
                       contributors` -> merge_*        needs whole conversations (``whole``)
replies                :func:`response.conversation_   each conversation whole (report
(``response``)         turns` + pairing -> reply rows  partitions), or pieces in time order
                       (concatenated)                  with the carried last turn of each
                                                       conversation (:func:`response.replies_
                                                       after`, watch)
percentiles            reply rows -> sorted values     exact: the rows are merged, not the
(``response``,         (:func:`response.response_      percentiles; per bucket a slice of the
``reply_series``)      summary`, :func:`reply_series.  rows at a time (bounded memory)
                       reply_p95`)
countries              :func:`countries.country_       counts add; distinct conversations add
(``countries``)        counts` + distinct (country,    only for whole conversations; distinct
                       user) pairs                     users are counted from the pairs, in
                                                       shares by user
repeated messages      :func:`merge.merge_repeated`    every record of a message id together
(``merge``)                                            (report), or the carried merged record
                                                       of each recent id (watch retracts its
                                                       partials and adds the new merge's)
=====================  ==============================  ========================================

The report's partitions are hash-split by conversation, so every piece holds whole
conversations and every merge above is exact. ``watch`` feeds pieces in time order and keeps
the carried state; ``watch --replay`` proves the two agree (tests/test_watch_agrees.py).
"""
