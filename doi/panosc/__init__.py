"""The PaNOSC search API (panosc-eu/search-api) over the catalogue's open data, at /panosc/.

The federated search of the European photon and neutron facilities asks every facility the same
questions: `GET /panosc/datasets`, `/documents`, `/instruments`, each with `/{pid}` and `/count`,
a Loopback `filter` (where, include, limit, skip) and a `query` whose words give each result its
`score`. Only open data leave: datasets of released investigations, published DOIs as documents.

- `query.py`: the filter language, parsed and bounded (a bad filter: FilterError -> 400);
- `resources.py`: the data model mapped onto the catalogue and doi/, where -> Q, pages and their
  included relations (one query per relation), parameters compared in pint-converted units;
- `views.py`, `urls.py`: the JSON endpoints.
"""
