"""The pure core: no AWS, no HTTP, no Powertools.

``engine`` (the one bounded gather), ``budget`` (the invocation's clock, its deadline and its
slices), ``requests`` (the request models), ``results`` and ``documents`` (typed results and
the documents built from them, serialised in one place), ``answers`` (fitting an answer in the
response limit), ``targets`` (target lists), ``urls`` and ``ids``.
"""
