"""Verify a running provider against one of our pact files with pact-python.

This is the proof that our Pact V4 files are readable by a Pact implementation that is
not ours: pact-python drives the Pact FFI (the reference Rust core, shipped in the
wheel), replays the file's HTTP interactions against the provider, and calls our
state-change URL (Pact's standard protocol) before each one.

    python verify_with_pact_python.py --provider payment \
        --base-url http://127.0.0.1:8084 --pact contracts/pacts/account-payment.json \
        --state-change-url http://127.0.0.1:9999/states --token "$TOKEN"

Exits 0 when every interaction verified, 1 otherwise.
"""

import argparse
import sys
from urllib.parse import urlparse

try:
    from pact import Verifier
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "pact-python is not installed for this python. Install the CI tools:\n"
        "  python3 -m venv ~/.cache/ironvessel/venv\n"
        "  ~/.cache/ironvessel/venv/bin/pip install -r ci/requirements-tools.txt\n"
    )
    sys.exit(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--pact", required=True)
    parser.add_argument("--state-change-url")
    parser.add_argument("--token")
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="verify only the HTTP interactions (descriptions starting with 'a request' or "
        "'an update' or 'a client-credentials'); message interactions are verified by our "
        "broker verifier",
    )
    args = parser.parse_args()

    host = urlparse(args.base_url).hostname
    verifier = Verifier(args.provider, host=host).add_transport(url=args.base_url).add_source(args.pact)
    if args.state_change_url:
        verifier = verifier.state_handler(args.state_change_url, body=True)
    if args.token:
        verifier = verifier.add_custom_header("authorization", f"Bearer {args.token}")
    if args.http_only:
        verifier = verifier.filter(description=r"^(a request|an update|a client-credentials|a readiness)")
    try:
        verifier.verify()
    except Exception as error:  # noqa: BLE001 - pact-python raises on a failed verification
        print(verifier.output(strip_ansi=True))
        print(f"pact-python: verification FAILED: {error}")
        return 1
    print(verifier.output(strip_ansi=True))
    print("pact-python: verification passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
