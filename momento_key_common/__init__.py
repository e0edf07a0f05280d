"""What the rotation function and the key reader share, so that neither keeps a copy.

- :mod:`token`: the token document and the Momento key in it (parsing, the JWT ``exp``, field
  names);
- :mod:`names`: secret names, global and regional;
- :mod:`errors`: the error kinds and the one list of codes, each transient or not;
- :mod:`grpc_status`: what a Secret Manager status code means, by code;
- :mod:`redact`: keeping keys, refresh tokens and payloads out of every string that leaves.

Pure and standard-library only: the function imports it from its own source (deploy.sh uploads
it beside ``rotation/``), and the reader's wheel carries it (reader/pyproject.toml).
"""
