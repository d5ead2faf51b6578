"""genloom-compress registers no model, so of genloom's conformance suite only the plugin
checks apply: every component it registers imports, and its entry module imports
without torch (docs/architecture.md: every in-repo plugin runs the kit)."""

from genloom_devkit.testing import Case, parametrize_with_checks


@parametrize_with_checks([Case.of_plugin("compress")])
def test_compress_conformance(case, check):
    check(case)
