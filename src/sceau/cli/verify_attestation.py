"""``sceau verify-attestation --bundle B``: verify a DSSE (in-toto) bundle and print what the
statement says: its predicate type and subjects. With FILE_OR_DIGEST, the artifact must
also be one of the subjects."""

from __future__ import annotations

import argparse

from sceau.cli.verify import (
    add_policy_arguments,
    add_trust_arguments,
    add_witness_arguments,
    artifact_from_arg,
    policy_from_args,
    read_bundle,
    trust_hints,
    verifier_from_args,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "artifact",
        metavar="FILE_OR_DIGEST",
        nargs="?",
        help="optionally, a file (or sha256:<hex>) that must be a subject",
    )
    parser.add_argument("--bundle", metavar="B", required=True, help="the attestation bundle")
    add_policy_arguments(parser)
    add_trust_arguments(parser)
    add_witness_arguments(parser)
    from sceau.cli.cosign_args import add_predicate_type_filter

    add_predicate_type_filter(parser)
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="a JSON Schema the verified in-toto statement must satisfy (see docs/cosign.md)",
    )


def run(args: argparse.Namespace) -> int:
    from sceau.client.verify import parse_statement

    policy = policy_from_args(args)
    statement_policy = None
    if args.policy:
        from sceau.client.attestation_policy import load_policy

        statement_policy = load_policy(args.policy)  # a bad policy fails before any work
    bundle = read_bundle(args.bundle)
    verifier = verifier_from_args(args)
    with trust_hints(args):
        if args.artifact:
            result = verifier.verify_artifact(bundle, artifact_from_arg(args.artifact), policy)
            statement = result.statement
        else:
            result = verifier.verify_dsse_result(bundle, policy)
            assert result.payload_type is not None and result.payload is not None
            statement = parse_statement(result.payload_type, result.payload)
    assert statement is not None
    from sceau.cli.cosign_args import check_predicate_type

    check_predicate_type(args, statement)
    if statement_policy is not None:
        from sceau.client.attestation_policy import check_statement

        check_statement(statement_policy, statement, args.policy)
    print(
        f"OK: attestation signed by {result.identity or 'the given key'}"
        + (f" ({result.issuer})" if result.issuer else "")
    )
    print(f"predicateType: {statement.get('predicateType')}")
    for subject in statement.get("subject", []):
        if not isinstance(subject, dict):
            continue
        digests = subject.get("digest") or {}
        shown = ", ".join(f"{k}:{v}" for k, v in sorted(digests.items()))
        print(f"subject: {subject.get('name', '')} {shown}")
    return 0
