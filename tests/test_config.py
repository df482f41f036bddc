"""Configuration: layered defaults <- TOML <- environment <- overrides, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap import load_settings
from hub.errors import ConfigError


def test_defaults_need_no_file_and_use_a_sqlite_file_in_the_data_dir():
    s = load_settings(environ={})
    assert s.port == 8080 and s.data_dir == Path("data")
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("data/hub.db")


def test_environment_overrides_file_and_flags_override_environment(tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[hub]\nport = 9000\ndata_dir = "/srv/hub"\ndemo = true\n')
    s = load_settings(cfg, environ={"HUB_PORT": "9100", "HUB_ALLOWED_UPLOAD_TYPES": "image/png, text/plain"})
    assert (s.port, s.data_dir, s.demo) == (9100, Path("/srv/hub"), True)
    assert s.allowed_upload_types == ("image/png", "text/plain")
    assert load_settings(cfg, environ={"HUB_PORT": "9100"}, port=9200).port == 9200


@pytest.mark.parametrize("content, message", [
    ("port = 'eighty'", "'port'"),
    ("prot = 80", "unknown setting 'prot'"),
    ("port = 70000", "between 1 and 65535"),
    ("database_url = 'mysql://x'", "database_url"),
    ("demo = 'maybe'", "'demo'"),
    ("port = [", "not valid TOML"),
    ("voice_tts_engines = ['piper', 'festival']", "'voice_tts_engines'"),
    ("voice_tts_engines = []", "'voice_tts_engines'"),
    ("voice_tts_piper_voices = ['huayan']", "'voice_tts_piper_voices' entry 'huayan'"),
    ("voice_tts_language_voices = ['fr=espeak-ng:fr']", "'<zh|ko|ja|en>=<engine>:<voice>'"),
    ("voice_tts_language_voices = ['zh=piper']", "'voice_tts_language_voices' entry 'zh=piper'"),
])
def test_bad_configuration_names_the_setting_and_the_source(tmp_path, content, message):
    cfg = tmp_path / "hub.toml"
    cfg.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert message in err.value.detail


def test_bad_environment_value_says_which_variable(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"HUB_MAX_UPLOAD_BYTES": "lots"})
    assert "HUB_MAX_UPLOAD_BYTES" in err.value.detail
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_server_refuses_to_start_on_bad_configuration(tmp_path, capsys):
    import server

    cfg = tmp_path / "hub.toml"
    cfg.write_text("port = 0\n")
    assert server.main(["--config", str(cfg)]) == 2
    assert "configuration error" in capsys.readouterr().err


def test_tts_settings_from_the_environment_become_the_engine_configuration(tmp_path):
    from voice.ivr.settings import TtsSettings
    from voice.tts import TtsConfig

    s = load_settings(environ={
        "HUB_VOICE_TTS_ENGINES": "coqui,espeak-ng",
        "HUB_VOICE_TTS_COQUI_MODEL": "/srv/coqui/vits-zh",
        "HUB_VOICE_TTS_COQUI_LANGUAGE": "zh",
        "HUB_VOICE_TTS_PIPER_VOICES": "huayan=/srv/piper/zh_CN-huayan-medium.onnx",
        "HUB_VOICE_TTS_LANGUAGE_VOICES": "en=espeak-ng:en-us, ko = espeak-ng:ko",
    })
    config = TtsConfig.from_settings(s.section(TtsSettings), cache_dir=tmp_path)
    assert config.engines == ("coqui", "espeak-ng")
    assert config.coqui_model_path == Path("/srv/coqui/vits-zh") and config.coqui_language == "zh"
    assert config.piper_voices == {"huayan": Path("/srv/piper/zh_CN-huayan-medium.onnx")}
    assert config.language_voices == {"en": ("espeak-ng", "en-us"), "ko": ("espeak-ng", "ko")}
    assert config.cache_dir == tmp_path
    default = TtsConfig.from_settings(load_settings(environ={}).section(TtsSettings))
    assert default == TtsConfig()  # nothing configured: the packaged piper voice first


def test_a_components_section_keeps_its_flat_keys_from_every_source(tmp_path):
    from assist.settings import AssistSettings
    from channels.email.settings import EmailSettings
    from kb.settings import KbSettings

    cfg = tmp_path / "hub.toml"
    cfg.write_text('[hub]\nemail_port = 2626\nelasticsearch_index = "faq"\n')
    s = load_settings(cfg, environ={"HUB_EMAIL_ADDRESS": "help@example.com", "HUB_KB_BOT_MIN_SCORE": "0.8"},
                      email_display_name="Help desk")
    email = s.section(EmailSettings)
    assert (email.port, email.address, email.display_name) == (2626, "help@example.com", "Help desk")
    assert email.smtp_port == 25  # untouched keys keep their defaults
    assert s.section(KbSettings).elasticsearch_index == "faq"  # a key outside the section's prefix
    assert s.section(AssistSettings).bot_min_score == 0.8
    with pytest.raises(ConfigError, match="'email_address' must be an email address"):
        load_settings(environ={"HUB_EMAIL_ADDRESS": "nobody"})  # checked by the section


def test_the_hub_alone_knows_no_components_keys():
    from hub.config import load_settings as hub_load_settings

    assert hub_load_settings(environ={}, port=9000).port == 9000
    with pytest.raises(ConfigError, match="unknown setting 'email_port'"):
        hub_load_settings(environ={}, email_port=0)
