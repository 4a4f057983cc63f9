"""Fuzz every string field of every target with hostile text: each value is either refused
with a DeploymentConfigError naming its field (nothing written), or arrives exactly as written
when the files are read back the way each platform reads them, and the files still pass the
targets' own validators."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import serving_validators
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_files import read_back
from serving_hostile import TARGETS, Slot, hostile_text, slots

from ai_models.serving import DeploymentConfigError, get_target
from ai_models.serving.cli import deploy

# Free text is written whole: it must come back as one whole string, not just inside one.
WHOLE = {("env_vars", "mapped"), ("env_vars", "key"), ("annotations", "mapped")}


def _root(path: str) -> str:
    return path.split("[", 1)[0].split(".", 1)[0]


def fuzz_one(target: str, slot: Slot, text: str, folder: Path) -> bool:
    """Try one hostile value; return whether it was accepted (and then written to folder)."""
    config_class, seed = TARGETS[target]
    fields = slot.place(seed, text)
    try:
        config = config_class(**fields)
    except DeploymentConfigError as error:
        roots = {_root(path) for path, _ in error.errors}
        assert slot.field in roots, (slot, text, error.errors)
        assert all(line.isprintable() and line.isascii() for line in error.lines()), error
        assert not folder.exists()
        if slot.part == "value":  # assignment runs the same rules as construction
            config = config_class(**seed)
            with pytest.raises(DeploymentConfigError) as assigned:
                setattr(config, slot.field, text)
            assert slot.field in {_root(path) for path, _ in assigned.value.errors}
        return False
    generator = config.target if hasattr(config, "target") else get_target(target.split("-")[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator.generate(config, folder)
    found = read_back(folder)
    if (slot.field, slot.part) in WHOLE:
        assert text in found, (slot, text)
    else:
        assert any(text in value for value in found), (slot, text)
    return True


def run_fuzz(target: str, root: Path, examples: int) -> dict[str, tuple[Slot, str]]:
    """Fuzz one target with hypothesis; return the accepted examples by output folder."""
    config_class, seed = TARGETS[target]
    places = slots(config_class, seed)
    # Free text accepts the most, so it gets half the examples; every other slot shares the rest.
    free = [slot for slot in places if (slot.field, slot.part) in WHOLE]
    accepted: dict[str, tuple[Slot, str]] = {}
    tried = [0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(slot=st.sampled_from(places) | st.sampled_from(free), text=hostile_text())
    def attempt(slot: Slot, text: str) -> None:
        tried[0] += 1
        folder = root / f"{target}-{tried[0]:04d}"
        if fuzz_one(target, slot, text, folder):
            accepted[folder.name] = (slot, text)

    attempt()
    return accepted


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_hostile_strings_are_refused_or_arrive_verbatim(tmp_path: Path, target: str) -> None:
    run_fuzz(target, tmp_path, examples=200)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_string_field_is_fuzzed(target: str) -> None:
    config_class, seed = TARGETS[target]
    fuzzed = {slot.field for slot in slots(config_class, seed)}
    strings = {
        name
        for name, info in config_class.model_fields.items()
        if "str" in repr(info.annotation) or "Config" in repr(info.annotation)
    }
    assert strings <= fuzzed
    assert len(fuzzed) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_accepted_hostile_strings_pass_the_validators(tmp_path: Path, target: str) -> None:
    accepted = run_fuzz(target, tmp_path / "out", examples=150)
    assert accepted, "no hostile value was accepted: the fuzzer exercises nothing"
    checks = {k: v for k, v in serving_validators.ALL.items() if k != "checkov"}
    problems = {name: check(tmp_path / "out") for name, check in checks.items()}
    problems = {name: found for name, found in problems.items() if found}
    assert problems == {}, json.dumps({"problems": problems, "accepted": repr(accepted)})[:20000]


CONTROL = "contains a control character"
ISSUE_INPUTS = [
    ("docker", {"host": "fe80::1%\nRUN touch /pwned"}, "host", CONTROL),
    ("docker", {"host": "fe80::1%eth0$(id)"}, "host", "an IPv6 zone is an interface name"),
    ("docker", {"host": "fe80::1%\ud800"}, "host", "a lone surrogate"),
    ("docker", {"host": "fe80::1%\x1b"}, "host", CONTROL),
    ("docker", {"build_context": "..\r"}, "build_context", CONTROL),
    ("docker", {"env_vars": {"A": "x\u2028y"}}, 'env_vars["A"]', "line or paragraph separator"),
    ("docker", {"env_vars": {"A": "\u202egnp.exe"}}, 'env_vars["A"]', "bidirectional"),
    ("docker", {"env_vars": {"A": "x" * 5000}}, 'env_vars["A"]', "longer than 4096"),
    ("docker", {"volumes": [{"type": "tmpfs", "target": "/x\x1b"}]}, "volumes[0].target", CONTROL),
    ("kubernetes", {"annotations": {"a": "\x00"}}, 'annotations["a"]', CONTROL),
    ("kubernetes", {"ingress_path": "/v1\x85"}, "ingress_path", CONTROL),
    ("aws", {"env_vars": {"DB": "{{resolve:secretsmanager:prod}}"}}, 'env_vars["DB"]', "dynamic"),
    ("aws", {"name": "\ud800"}, "name", "a lone surrogate"),
    ("azure", {"region": "eastus\r"}, "region", CONTROL),
    ("gcp", {"secrets": {"A_TOKEN": "s\u2029"}}, 'secrets["A_TOKEN"]', "line or paragraph"),
    ("docker", {"evil\nRUN id": 1}, '"evil\\nRUN id"', "is not a known field"),
    ("docker-vllm", {"model_id": "org/m\nRUN id"}, "model_id", CONTROL),
    ("docker-vllm", {"max_model_len": "4096 --trust-remote-code"}, "max_model_len", "integer"),
    ("kubernetes-vllm", {"gpu_count": "1; id"}, "gpu_count", "integer"),
    ("kubernetes-vllm", {"model_id": "$(id)"}, "model_id", "a Hugging Face model id"),
    ("aws-vllm", {"gpu_count": 0}, "gpu_count", "needs at least 1 GPU"),
    ("gcp-vllm", {"vllm_image": "vllm/vllm-openai:v1\u2028"}, "vllm_image", "line or paragraph"),
    ("azure-vllm", {"max_model_len": 1e309}, "max_model_len", "integer"),
]


@pytest.mark.parametrize(("target", "change", "field", "reason"), ISSUE_INPUTS)
def test_cli_refuses_hostile_fields_with_one_line(
    tmp_path: Path, target: str, change: dict, field: str, reason: str
) -> None:
    _, seed = TARGETS[target]
    config = {**seed, **change}
    if "provider" in config:
        config["provider"] = config["provider"].value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="ascii")  # JSON escapes carry any code point
    command = "cloud" if "provider" in config else target.split("-")[0]
    out = tmp_path / "out"
    result = CliRunner().invoke(deploy, [command, "--config", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: "), lines
    assert reason in lines[0]
    assert lines[0].isascii() and lines[0].isprintable()
    assert result.stdout == "" and not out.exists()
