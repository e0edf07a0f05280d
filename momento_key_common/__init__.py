"""What the rotation function and the key reader share, so that neither keeps a copy.

- :mod:`token`: the token document and the Momento key in it (parsing, the JWT ``exp``, field
  names);
- :mod:`names`: secret names, global and regional;
- :mod:`errors`: the error kinds and the one list of codes, each transient or not;
- :mod:`grpc_status`: what a Secret Manager status code means, by code;
- :mod:`redact`: keeping keys, refresh tokens and payloads out of every string that leaves;
- :mod:`clients`: building a Secret Manager client for a secret's endpoint, or an emulator.

All pure and standard-library only, but :mod:`clients`, which imports Google's Secret Manager
client when it builds one (both sides depend on it anyway). One source, two carriers: the
function imports it from its own source (deploy.sh uploads it beside ``rotation/``), and the
reader's wheel carries it (reader/pyproject.toml).
"""
