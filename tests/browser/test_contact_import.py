"""A contact import in a real browser, in pt-BR: upload a CSV with one bad row, map its
columns, see the problem in the preview, import, watch the progress reach 100% (the server's
in-process worker runs it) and download the refused rows; the pages at 375 and 1440 px, light
and dark (screenshots in var/shots)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_crm import no_horizontal_overflow, signed_in

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"
CSV = (
    "telefone;nome;cidade;consentimento\n"
    "11 98888-1111;Ana Lima;Recife;sim\n"
    "12345;Bruno;Natal;sim\n"
    "11 97777-2222;Carla 😀;Olinda;não\n"
).encode()


def in_portuguese(page):
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")


def test_import_a_csv_with_a_bad_row_in_portuguese(conversa_server, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    server = conversa_server
    page = signed_in(browser, server)
    in_portuguese(page)
    page.goto(f"{server['url']}/contacts/import/")
    expect(page.get_by_role("heading", name="Importar contatos", level=1)).to_be_visible()
    page.get_by_label(re.compile("Arquivo CSV ou Excel")).set_input_files(
        {"name": "clientes.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Enviar e mapear colunas").click()

    expect(page.get_by_role("heading", name="clientes.csv")).to_be_visible()
    # Guessed from the header row; the city becomes a custom field.
    expect(page.get_by_label("telefone", exact=True)).to_have_value("phone")
    page.get_by_label("cidade", exact=True).select_option("custom")
    page.get_by_role("button", name="Conferir as primeiras linhas").click()
    preview = page.locator(".import-preview")
    bad = preview.locator("tr", has_text="Bruno")
    expect(bad).to_contain_text("número de telefone inválido")
    expect(preview.locator("tr", has_text="Ana Lima")).to_contain_text("+5511988881111")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "import-preview-1440-light.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 900})
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "import-preview-375-light.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.get_by_role("button", name="Importar", exact=True).click()
    progress = page.locator("#import-progress")
    expect(progress.locator(".import-percent")).to_contain_text("100%", timeout=30_000)
    expect(progress).to_contain_text("Concluída")
    counts = progress.locator(".import-counts")
    expect(counts.locator("div", has_text="Contatos novos")).to_contain_text("2")
    expect(counts.locator("div", has_text="Linhas recusadas")).to_contain_text("1")
    page.screenshot(path=str(SHOTS / "import-done-1440-light.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar as linhas recusadas (CSV)").click()
    report = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "3,número de telefone inválido,12345,Bruno,Natal,sim" in report.replace("\r", "")
    done_url = page.url

    for width, scheme in [(375, "dark"), (1440, "dark"), (375, "light")]:
        other = signed_in(browser, server, width=width, scheme=scheme)
        other.goto(done_url)
        expect(other.locator("#import-progress")).to_contain_text("100%")
        no_horizontal_overflow(other)
        other.screenshot(path=str(SHOTS / f"import-done-{width}-{scheme}.png"), full_page=True)
        other.goto(f"{server['url']}/contacts/import/")
        no_horizontal_overflow(other)
        other.screenshot(path=str(SHOTS / f"imports-{width}-{scheme}.png"), full_page=True)
        other.context.close()
