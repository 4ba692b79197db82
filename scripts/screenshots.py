"""`make screenshots`: every page people use at 375 and 1440 px, light and dark, English and
pt-BR, into var/screenshots/ (`<page>-<width>-<theme>-<lang>.png`, and index.html to look at
them all at once). Prints {"pages", "shots", "seconds"} as JSON.

It starts its own `conversa serve` on a fresh SQLite database with the demo loaded
(tests/browser/server.py, as the browser tests do) and signs in as the demo's owner. The pages
are the role table's (tests/accounts/test_role_matrix.py): every GET route that answers a whole
HTML page, so a new page is shot as soon as it has its row there. Path parameters are the demo's
objects. Public pages (sign-in, password reset, API docs) are shot signed out.
"""

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import django
import httpx
from playwright.sync_api import sync_playwright

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.browser.server import (  # noqa: E402 (after the path)
    CHROMIUM,
    CHROMIUM_ARGS,
    running_conversa,
)

OUT = REPOSITORY / "var" / "screenshots"
WIDTHS = {375: 812, 1440: 900}  # width: the viewport's height (a phone, a desk)
THEMES = ("light", "dark")
LANGUAGES = {"en": "en-US", "pt-br": "pt-BR"}  # Django's code: the browser's locale

# Pages people meet that the role table leaves to other tests (the simulator's own rules) or
# that no route names (what a mistyped address shows).
EXTRA = {"sandbox": "/sandbox/", "not-found": "/no-such-page/"}
# Pages drawn by a script after they load, beyond htmx's requests: what shows they are drawn.
DRAWN = {"openapi-view": ".swagger-ui .info"}

# The demo's objects for each path parameter, printed by `conversa shell` in the server's
# environment (this process's Django, in the test that runs this code, reads another database).
DEMO_IDS = """
import json
from django.db.models import Count
from conversa.accounts.models import ApiToken, Invitation, Member, Organization
from conversa.crm.models import Automation, Lead, Pipeline, Stage
from conversa.engine.models import MessageIntent
from conversa.inbox.models import CannedReply, Contact, Conversation, Queue, Tag
from conversa.numbers.models import Number

org = Organization.objects.get(slug="demo")


def first(model, order="pk", **filters):
    found = model.objects.filter(organization=org, **filters).order_by(order).first()
    return found.pk if found else None


conversation = (
    Conversation.objects.filter(organization=org)
    .annotate(n=Count("messages"))
    .order_by("-n", "pk")
    .first()
)
print(json.dumps({
    "conversation_id": conversation.pk if conversation else None,
    "contact_id": conversation.contact_id if conversation else None,
    "queue_id": first(Queue),
    "tag_id": first(Tag),
    "reply_id": first(CannedReply),
    "number_id": first(Number),
    "intent_id": first(MessageIntent, "-pk"),
    "pipeline_id": first(Pipeline),
    "stage_id": first(Stage),
    "lead_id": first(Lead),
    "automation_id": first(Automation),
    "member_id": first(Member, role="agent"),
    "agent_id": first(Member, role="agent"),
    "invitation_id": first(Invitation),
    "token_id": first(ApiToken),
}))
"""


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    public: bool = False
    probe: bool = True  # whether it must answer 200 with a whole page to be shot


def demo_ids(server: dict) -> dict:
    shell = [sys.executable, "-m", "conversa.cli", "shell", "-c", DEMO_IDS]
    printed = subprocess.run(  # noqa: S603 (our own command)
        shell, env=server["env"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(printed.strip().splitlines()[-1])


def candidate_pages(ids: dict) -> tuple[list[Page], list[str]]:
    """Every GET page of the role table with its path filled from the demo, and the names of
    those the demo has no object for."""
    from tests.accounts.test_role_matrix import PAGES, PUBLIC, page_routes

    routes = {key: pattern for key, pattern, _name in page_routes()}
    pages, missing = [], []
    for key, rule in PAGES.items():
        if rule.skip or rule.method != "GET" or rule.data or key not in routes:
            continue
        params = re.findall(r"<(?:\w+:)?(\w+)>", routes[key])
        if any(ids.get(p) is None for p in params):
            missing.append(key)
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), routes[key])
        name = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
        pages.append(Page(name, path, public=rule.who == PUBLIC))
    pages += [Page(name, path, probe=False) for name, path in EXTRA.items()]
    return pages, missing


def whole_pages(server: dict, candidates: list[Page]) -> list[Page]:
    """The candidates that answer a whole HTML page themselves: not a fragment, JSON, or a
    redirect (an old address, an entry that sends on to a section: the table has the page it
    lands on)."""
    kept = []
    signed = {c["name"]: c["value"] for c in server["signed_in"]["cookies"]}
    with (
        httpx.Client(base_url=server["url"], cookies=signed) as member,
        httpx.Client(base_url=server["url"]) as visitor,
    ):
        for page in candidates:
            if not page.probe:
                kept.append(page)
                continue
            answer = (visitor if page.public else member).get(page.path)
            whole = answer.text.lstrip()[:15].lower().startswith("<!doctype html")
            if answer.status_code == 200 and whole:
                kept.append(page)
    return kept


def settled(tab, timeout: float = 10) -> None:
    """Until htmx has no request in flight (the fragments a page loads on arrival). Polled with
    evaluate: the CSP blocks wait_for_function."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tab.evaluate("() => !document.querySelector('.htmx-request')"):
            return
        time.sleep(0.05)


def a_reply_sent(server: dict, ids: dict) -> None:
    """The owner answers the busiest conversation through the composer, as a person would: the
    demo sends nothing itself, and the send pages (Intents) need a send to show."""
    signed = {c["name"]: c["value"] for c in server["signed_in"]["cookies"]}
    with httpx.Client(base_url=server["url"], cookies=signed) as member:
        page = f"/inbox/c/{ids['conversation_id']}/"
        member.get(page).raise_for_status()
        answer = member.post(
            f"{page}reply",
            data={"body": "Olá! Já vejo o seu pedido."},
            headers={"X-CSRFToken": member.cookies["csrftoken"], "Referer": server["url"] + page},
        )
        assert answer.status_code == 302, answer.text[:500]  # back to the conversation


def shoot(browser, server: dict, pages: list[Page], out: Path, combos=None) -> list[dict]:
    """Each page in each (width, theme, language): one PNG each into `out`, and index.html.
    Returns the shots as {page, width, theme, lang, file}.

    The language is the page's (Django's cookie, and the browser's locale); the date and time
    fields' own format follows headless Chromium's, en-US here whatever the page says."""
    out.mkdir(parents=True, exist_ok=True)
    combos = combos or [(w, t, lang) for lang in LANGUAGES for w in WIDTHS for t in THEMES]
    shots = []
    for width, theme, lang in combos:
        for public in (False, True):
            chosen = [p for p in pages if p.public == public]
            if not chosen:
                continue
            context = browser.new_context(
                viewport={"width": width, "height": WIDTHS[width]},
                color_scheme=theme,
                locale=LANGUAGES[lang],
                timezone_id="America/Sao_Paulo",
                storage_state=None if public else server["signed_in"],
            )
            context.add_cookies([{"name": "django_language", "value": lang, "url": server["url"]}])
            tab = context.new_page()
            for page in chosen:
                tab.goto(server["url"] + page.path, wait_until="load")
                if page.name in DRAWN:
                    tab.wait_for_selector(DRAWN[page.name])
                settled(tab)
                name = f"{page.name}-{width}-{theme}-{lang}.png"
                whole_height(tab, width)
                tab.screenshot(path=out / name, animations="disabled")
                tab.set_viewport_size({"width": width, "height": WIDTHS[width]})
                shots.append(
                    {"page": page.name, "width": width, "theme": theme, "lang": lang, "file": name}
                )
            context.close()
    write_index(out, pages, shots)
    return shots


def whole_height(tab, width: int, most: int = 8000) -> None:
    """A viewport as tall as the page, rather than Playwright's full-page shot, which leaves
    fixed bars (the phone's bottom navigation) where the first screen had them."""
    height = tab.evaluate("() => document.documentElement.scrollHeight")
    if height > WIDTHS[width]:
        tab.set_viewport_size({"width": width, "height": min(height, most)})


def write_index(out: Path, pages: list[Page], shots: list[dict]) -> None:
    """index.html: one row a page, one column a (width, theme, language), thumbnails linking
    to the full shots."""
    columns = sorted({(s["width"], s["theme"], s["lang"]) for s in shots})
    files = {(s["page"], s["width"], s["theme"], s["lang"]): s["file"] for s in shots}
    head = "".join(f"<th>{w} · {t} · {lang}</th>" for w, t, lang in columns)
    rows = []
    for page in pages:
        cells = []
        for column in columns:
            file = files.get((page.name, *column))
            cells.append(
                f'<td><a href="{file}"><img src="{file}" loading="lazy" alt=""></a></td>'
                if file
                else "<td></td>"
            )
        label = f"{html.escape(page.name)}<br><small>{html.escape(page.path)}</small>"
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    (out / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Conversa screenshots</title>"
        "<style>body{font:13px system-ui;margin:8px}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}"
        "img{width:160px;max-height:320px;object-fit:cover;object-position:top}</style>"
        f"<table><thead><tr><th>page</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", help="comma-separated page names (default: every page)")
    parser.add_argument("--list", action="store_true", help="print the pages, shoot nothing")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conversa-screenshots-") as folder:
        pages, shots = run(Path(folder), args.out, args.only, args.list)
    seconds = round(time.monotonic() - started, 1)
    print(json.dumps({"pages": len(pages), "shots": len(shots), "seconds": seconds}))


def run(folder: Path, out: Path, only: str | None, list_only: bool = False):
    # Django is set up here to read the URL patterns; the suite's settings give this process
    # and the server it starts a deployment's keys (fresh ones) and the simulator.
    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder / 'browser.sqlite3'}",
        REDIS_URL="",
        DJANGO_SETTINGS_MODULE="tests.settings",
    )
    django.setup()
    with running_conversa(folder) as server, sync_playwright() as playwright:
        ids = demo_ids(server)
        a_reply_sent(server, ids)
        ids = demo_ids(server)  # again, with the reply's send
        candidates, missing = candidate_pages(ids)
        pages = whole_pages(server, candidates)
        if only:
            pages = [p for p in pages if p.name in only.split(",")]
        if missing:
            print(f"no demo object for: {', '.join(missing)}", file=sys.stderr)
        if list_only:
            for page in pages:
                print(f"{page.name:<28} {page.path}", file=sys.stderr)
            return pages, []
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        shots = shoot(browser, server, pages, out)
        browser.close()
    return pages, shots


if __name__ == "__main__":
    main()
