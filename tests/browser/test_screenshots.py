"""`make screenshots` (scripts/screenshots.py) cannot rot unseen: its pages are found from the
role table, and its core shoots two of them in two of the eight looks."""

from scripts import screenshots


def test_the_pages_are_found_and_shot(conversa_server, browser, tmp_path):
    candidates, missing = screenshots.candidate_pages(screenshots.demo_ids(conversa_server))
    pages = {p.name: p for p in screenshots.whole_pages(conversa_server, candidates)}
    # Whole pages, members' and public ones; not fragments, JSON or redirects.
    assert {"inbox", "conversation", "numbers", "manage-hours", "login", "sandbox"} <= set(pages)
    assert not {"thread", "conversation-list", "health", "settings", "instances"} & set(pages)
    assert pages["login"].public and not pages["manage-hours"].public
    assert "media-card" in missing  # the demo has no attachment

    looks = [(375, "light", "en"), (1440, "dark", "pt-br")]
    chosen = [pages["login"], pages["manage-hours"]]
    shots = screenshots.shoot(browser, conversa_server, chosen, tmp_path, looks)

    files = sorted(s["file"] for s in shots)
    assert files == [
        "login-1440-dark-pt-br.png",
        "login-375-light-en.png",
        "manage-hours-1440-dark-pt-br.png",
        "manage-hours-375-light-en.png",
    ]
    sheet = (tmp_path / "index.html").read_text()
    for file in files:
        assert (tmp_path / file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and file in sheet
