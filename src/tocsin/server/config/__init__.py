"""Config as code: ``tocsin.yaml`` describes channels and monitors; ``tocsin apply`` makes
the server match it.

``load_file``/``load_text`` parse the YAML keeping line numbers and substituting
``${ENV}``; ``validate`` checks it completely; ``make_plan`` diffs it against the server;
``apply_document`` runs the whole thing through a ``LocalBackend`` (the database) or a
``RemoteBackend`` (the REST API).
"""

from tocsin.server.config.apply import ApplyResult, apply_document
from tocsin.server.config.backends import Backend, BackendSession, LocalBackend, RemoteBackend
from tocsin.server.config.loader import Document, load_file, load_text
from tocsin.server.config.plan import Action, Change, ObjectKind, Plan, make_plan
from tocsin.server.config.validate import DesiredState, check_channel_references, validate

__all__ = [
    "Action",
    "ApplyResult",
    "Backend",
    "BackendSession",
    "Change",
    "DesiredState",
    "Document",
    "LocalBackend",
    "ObjectKind",
    "Plan",
    "RemoteBackend",
    "apply_document",
    "check_channel_references",
    "load_file",
    "load_text",
    "make_plan",
    "validate",
]
