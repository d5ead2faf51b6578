"""``genloom.bounds.read_json_object``: the one reader of an untrusted folder's JSON
config (Hugging Face and diffusers imports): a dict, or one line saying what is wrong."""

import pytest

from genloom.bounds import read_json_object
from genloom.errors import CheckpointError


@pytest.mark.parametrize("content, message", [
    (None, "has no config.json; save_pretrained writes it"),
    ("x" * 2048, "is over 1,024 bytes"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
])
def test_a_bad_config_file_is_one_line(tmp_path, content, message):
    file = tmp_path / "config.json"
    if content is not None:
        file.write_text(content)
    with pytest.raises(CheckpointError) as raised:
        read_json_object(file, "save_pretrained writes it", limit=1024)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_good_config_file_is_its_object(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "n_layer": 2}')
    assert read_json_object(tmp_path / "config.json", "") == {"model_type": "gpt2", "n_layer": 2}
