"""Root key providers on the hot paths: ban checks and reveals with the root key in an HSM
(SoftHSM2 through PKCS#11) next to the local keyring file, in one run.

Checks and reveals must not call the root key provider per request: unwrapped epoch and lookup
keys are cached per process. So the two vaults should serve at the same rate; the ratio
``hsm / keyring`` is the figure (target: within 10 %, i.e. >= 0.9). Reveals read subjects in a
cycle larger than the data-key cache, so every reveal unwraps its data key (the epoch key stays
cached); checks look up an e-mail address among the bans. The rounds alternate between the two
vaults and repeat; the medians are reported with their ranges.

For scale, the cost of one provider call (an unwrap) is measured too: the keyring's RFC 5649 in
process next to the token's C_UnwrapKey.

    python benchmarks/providers.py [--quick]

Needs Debian's softhsm2 and python-pkcs11. The last line printed is JSON; ratios end in ``_ratio``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, rate  # noqa: E402

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "bench-pin-1234"


def softhsm_token(root: Path) -> str:
    module = next((m for m in MODULES if os.path.exists(m)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        sys.exit("SoftHSM2 is not installed (Debian package softhsm2)")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # before the module is loaded
    subprocess.run([util, "--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", PIN + "-so"],
                   check=True, capture_output=True)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (well under a minute)")
    args = parser.parse_args()
    rounds, seconds, subjects = (3, 0.6, 400) if args.quick else (7, 2.0, 2000)

    from pseudovault.keys.keyring import Argon2Params, LocalKeyring
    from pseudovault.keys.pkcs11 import Pkcs11Provider
    from pseudovault.keys.provider import KekProvider
    from pseudovault.keys.secrets import SecretBytes
    from pseudovault.keys.wrap import generate_key
    from pseudovault.vault.vault import Vault

    with tempfile.TemporaryDirectory(prefix="pvbench-providers-") as tmp:
        root = Path(tmp)
        module = softhsm_token(root)
        providers: dict[str, KekProvider] = {
            "keyring": LocalKeyring.create(
                root / "keyring.json", "benchmark passphrase", params=Argon2Params(time_cost=1, memory_cost=8, parallelism=1)
            ),
            "hsm": Pkcs11Provider.open(module=module, token_label="bench", key_label="root", pin=SecretBytes(PIN.encode())),
        }
        vaults: dict[str, Vault] = {}
        ids: dict[str, list[str]] = {}
        for name, provider in providers.items():
            (root / name).mkdir()
            # a data-key cache smaller than the cycle of subjects read: every reveal unwraps a data key
            vault = Vault.create(
                provider, f"sqlite:///{root / name / 'data.sqlite3'}", f"sqlite:///{root / name / 'keys.sqlite3'}",
                cache_size=subjects // 4,
            )
            vaults[name] = vault
            ids[name] = [vault.subjects.create({"email": f"user{i}@example.com"}) for i in range(subjects)]
            for i in range(100):
                vault.records.create([("email", f"banned{i}@example.com")], category="fraudulent_transaction",
                                     reason_code="fraud")

        def reveal(name: str) -> object:
            vault, cycle, state = vaults[name], ids[name], {"i": 0}

            def one() -> None:
                state["i"] = (state["i"] + 1) % len(cycle)
                vault.subjects.read(cycle[state["i"]], purpose="benchmark")

            return one

        def check(name: str) -> object:
            vault, state = vaults[name], {"i": 0}

            def one() -> None:
                state["i"] += 1
                vault.checks.check([("email", f"banned{state['i'] % 200}@example.com")])

            return one

        results: dict[str, dict[str, list[float]]] = {op: {n: [] for n in providers} for op in ("check", "reveal")}
        for r in range(rounds):
            order = list(providers) if r % 2 == 0 else list(reversed(list(providers)))
            for op, make in (("check", check), ("reveal", reveal)):
                for name in order:
                    results[op][name].append(rate(make(name), seconds=seconds))  # type: ignore[arg-type]

        key = generate_key()
        unwrap_rates = {}
        for name, provider in providers.items():
            wrapped = provider.wrap(key)
            unwrap_rates[name] = rate(lambda p=provider, w=wrapped: p.unwrap(w), seconds=seconds)
        for vault in vaults.values():
            vault.close()
        providers["hsm"].close()

    figures: dict[str, object] = {"rounds": rounds, "seconds_per_round": seconds, "subjects": subjects}
    for op in ("check", "reveal"):
        for name in providers:
            values = results[op][name]
            figures[f"{op}_{name}_per_s"] = statistics.median(values)
            figures[f"{op}_{name}_range"] = f"{min(values):,.0f}-{max(values):,.0f}"
        figures[f"{op}_hsm_vs_keyring_ratio"] = statistics.median(
            h / k for h, k in zip(results[op]["hsm"], results[op]["keyring"], strict=True)
        )
    figures["provider_unwrap_keyring_per_s"] = unwrap_rates["keyring"]
    figures["provider_unwrap_hsm_per_s"] = unwrap_rates["hsm"]
    emit(figures)


if __name__ == "__main__":
    main()
