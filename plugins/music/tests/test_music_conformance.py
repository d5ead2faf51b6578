"""The music plugin registers no model, so of genloom's conformance suite only the
plugin checks apply: every registered target imports, and the entry module imports
without torch."""

from genloom_devkit.testing import Case, parametrize_with_checks


@parametrize_with_checks([Case.of_plugin("music")])
def test_music_conformance(case, check):
    check(case)
