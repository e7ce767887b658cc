"""A straightforward DRF ModelViewSet create, served beside the real API only in benchmarks.

The journal issue states that on this machine "a straightforward ModelViewSet create reaches
about 40 % of the no-op's rate". This reference measures that claim in the same run as the real
endpoints, so the journal's figures can be read against what plain DRF gives here.

Two floors beside it: an authenticated JSON POST that writes nothing, and the same plus one
bare prepared INSERT of a check-in row. Whatever a journal write does beyond that INSERT (its
validation, consent, lock, version, write limit, stale day), it cannot be faster than the second.
"""
