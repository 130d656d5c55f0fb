#!/usr/bin/env python3
"""Fails when a source includes a component it may not depend on.

The aggregator's components are layered (docs/architecture.md): each may include itself and the
components listed for it below, and nothing else of the aggregator. The agent, the aggregator and
fleetscalectl never include each other; shared/ includes none of them. Run by `make lint` and as a
unit test (ctest -R check_includes).
Usage: scripts/check-includes.py [repository root]
"""
import pathlib
import re
import sys

# Component -> the components it may include (besides itself). Keep in step with
# aggregator/CMakeLists.txt, whose libraries link exactly these.
AGGREGATOR_LAYERS = {
    "scaling": [],
    "state": [],
    "rightsizing": ["scaling", "state"],
    "policy": ["scaling", "state", "rightsizing"],
    "pipeline": ["scaling", "state", "policy", "rightsizing"],
    "replay": ["scaling", "state", "policy", "rightsizing", "pipeline"],
    "store": ["state"],
    "kube": ["scaling", "state", "policy", "rightsizing"],
    "actuation": ["scaling", "state", "policy", "rightsizing", "kube"],
    "election": ["scaling", "state", "policy", "rightsizing", "kube", "store"],
    "ingest": ["state", "store"],
    "sources": ["scaling", "state", "policy", "rightsizing"],
    "control": ["scaling", "state", "policy", "rightsizing", "pipeline", "store", "kube",
                "actuation", "sources"],
    "api": ["scaling", "state", "policy", "rightsizing", "pipeline", "store", "kube", "actuation",
            "ingest", "sources", "control"],
    "app": ["scaling", "state", "policy", "rightsizing", "pipeline", "replay", "store", "kube",
            "actuation", "election", "ingest", "sources", "control", "api"],
}

# Top-level parts -> the parts they may include.
PARTS = {
    "shared": ["shared"],
    "agent": ["shared", "agent"],
    "aggregator": ["shared", "aggregator"],
    "ctl": ["shared", "ctl"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"fleetscale/([a-z_]+)/(?:([a-z_]+)/)?[^"]*"', re.M)


def component_of(path: pathlib.Path):
    parts = path.parts
    if parts[0] != "aggregator":
        return None
    if "src" in parts:
        return parts[parts.index("src") + 1] if len(parts) > parts.index("src") + 2 else None
    if "include" in parts:
        i = parts.index("include") + 3  # include/fleetscale/aggregator/<component>/
        return parts[i] if len(parts) > i + 1 else None
    return None


def check(root: pathlib.Path):
    problems = []
    for source in sorted(list(root.glob("*/**/*.cpp")) + list(root.glob("*/**/*.h"))):
        rel = source.relative_to(root)
        part = rel.parts[0]
        if part not in PARTS or "build" in rel.parts:
            continue
        text = source.read_text(errors="replace")
        mine = component_of(rel)
        if part == "aggregator" and mine is None and rel.name != "main.cpp":
            problems.append(f"{rel}: aggregator code outside a component folder")
        for match in INCLUDE.finditer(text):
            target_part, target_component = match.group(1), match.group(2)
            if target_part == "v1":  # generated protocol: the ingest boundary and shared only
                if part == "aggregator" and mine != "ingest":
                    problems.append(f"{rel}: includes the wire format; only ingest/ may")
                continue
            if target_part not in PARTS[part]:
                problems.append(f"{rel}: {part}/ may not include fleetscale/{target_part}/")
                continue
            if part == "aggregator" and target_part == "aggregator":
                if rel.name == "main.cpp":
                    continue
                if target_component not in AGGREGATOR_LAYERS:
                    problems.append(f"{rel}: includes fleetscale/aggregator/{target_component}, "
                                    "which is not a component")
                elif target_component != mine and target_component not in AGGREGATOR_LAYERS[mine]:
                    problems.append(f"{rel}: {mine}/ may not include {target_component}/ "
                                    f"(allowed: {', '.join(AGGREGATOR_LAYERS[mine]) or 'none'})")
    # The table itself must be a hierarchy: no component may reach itself through others.
    def reaches(start, goal, seen):
        for dep in AGGREGATOR_LAYERS[start]:
            if dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep})):
                return True
        return False
    for component in AGGREGATOR_LAYERS:
        if reaches(component, component, set()):
            problems.append(f"the layer table has a cycle through {component}")
    return problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
    problems = check(root.resolve())
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-includes: {len(problems)} include(s) against the layering "
              "(docs/architecture.md)", file=sys.stderr)
        return 1
    print("check-includes: every include follows the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
