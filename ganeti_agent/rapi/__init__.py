"""Ganeti's remote API (RAPI, HTTPS on port 5080): a typed client, job waiting, and fakes.

``client`` talks to a cluster over treq, ``jobs`` reads job results (pure),
``x509`` signs and checks certificates with the cluster domain secret the way
Ganeti does (pure), and ``testing`` is an in-process fake cluster for tests.
"""
