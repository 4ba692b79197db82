"""The operator view in a real Chromium: two operators on two pages, live; canned replies,
keyboard, escaping of strangers' messages; the layout on a phone and a wide screen, light and
dark (screenshots in var/test-artifacts)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, simulator_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(conversa_server):
    """The demo on a real `conversa serve`, with every demo person's password."""
    return conversa_server


def operator(browser, server, email, *, width=1440, height=900, scheme="light", path=""):
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=scheme, locale="en-US"
    )
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(server["passwords"][email])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    if path:
        page.goto(f"{server['url']}{path}")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    return page


def list_redrawn(page, query):
    """Ask for a refresh of the list now and wait for one drawn for `query` (a regex on its
    query string). A refresh asked for earlier (the socket's opening, an event) draws what the
    filters said then, and lands when it lands; but refreshes take turns, so once one drawn for
    what they say now is answered, those have landed too."""
    drawn = re.compile(rf"/inbox/list\?(.*&)?{query}")

    def refreshed(response):
        # The filters' own requests (a tab picked) do not take turns with the refreshes.
        request = response.request
        return request.headers.get("hx-trigger") == "conversation-list" and drawn.search(
            request.url
        )

    with page.expect_response(refreshed):
        page.evaluate("htmx.trigger('#conversation-list', 'refresh')")


def show_tab(page, tab):
    """Show a tab of the list: the tab is picked, and no list drawn for another can land after."""
    page.locator("#list-filters .tab", has_text=tab).click()
    key = tab.lower()
    expect(page.locator(f"#list-filters input[value={key}]")).to_be_checked()
    list_redrawn(page, rf"tab={key}(&|$)")


def open_conversation(page, name, tab="All"):
    show_tab(page, tab)
    title = page.locator(".thread-title h2")
    # A live refresh of the list may replace the row as it is clicked, and that click is
    # lost: a person clicks again, and so does this, before it holds the page to account.
    for _ in range(2):
        page.locator(".conversation", has_text=name).click()
        try:
            expect(title).to_have_text(name, timeout=2_000)
            break
        except AssertionError:
            continue
    expect(title).to_have_text(name)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")


def customer_writes(browser, server, phone, name, text):
    """A customer writes from the simulator. Phones 55119555577xx are not in the demo (whose
    contacts keep their own names), and each test writes from its own."""
    customer = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    customer.goto(f"{server['url']}/sandbox/?phone={phone}&name={name}")
    customer.get_by_placeholder("Write as the customer…").fill(text)
    customer.get_by_role("button", name="Send").click()
    return customer


def no_horizontal_overflow(page):
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_a_claim_shows_live_on_the_other_operators_page_and_replies_cross_over(server, browser):
    admin = operator(browser, server, "admin@demo.local")
    ana = operator(browser, server, "ana@demo.local")
    for page, tab in ((admin, "All"), (ana, "Queue")):
        open_conversation(page, "João Pereira", tab)
        expect(page.locator("#conversation-owner")).to_have_text("Unassigned")

    admin.get_by_role("button", name="Claim").click()
    expect(admin.locator("#conversation-owner")).to_have_text("You")
    # Ana's page was not reloaded: the header tells her who has it, the Claim button is gone.
    expect(ana.locator("#conversation-owner")).to_have_text("Admin Demo")
    expect(ana.get_by_role("button", name="Claim")).to_have_count(0)
    expect(ana.locator(".system", has_text="Admin Demo claimed the conversation")).to_be_visible()
    expect(admin.locator("#count-mine")).to_have_text("1")

    ana.get_by_placeholder("Type a reply…").fill("Oi João, o plano anual custa R$ 990.")
    ana.keyboard.press("Enter")
    expect(ana.get_by_placeholder("Type a reply…")).to_have_value("")
    sent = admin.locator(".message.out", has_text="o plano anual custa")
    expect(sent).to_be_visible()
    expect(sent).to_contain_text("Ana Souza")
    expect(sent).to_have_attribute("data-status", re.compile("sent|delivered|read"))
    admin.screenshot(path=str(ARTIFACTS / "inbox-claim-admin.png"))
    ana.screenshot(path=str(ARTIFACTS / "inbox-claim-ana.png"))


def test_a_refused_claim_says_who_has_it(server, browser):
    admin = operator(browser, server, "admin@demo.local")
    bruno = operator(browser, server, "bruno@demo.local")
    open_conversation(admin, "Mariana Costa")
    open_conversation(bruno, "Mariana Costa", "Queue")
    # Bruno's page misses the news (as if its socket were down a moment) while the admin claims.
    bruno.evaluate(
        """document.addEventListener("htmx:wsBeforeMessage", (e) => {
             e.preventDefault(); e.stopImmediatePropagation(); }, true)"""
    )
    admin.get_by_role("button", name="Claim").click()
    expect(admin.locator("#conversation-owner")).to_have_text("You")
    expect(bruno.locator("#conversation-owner")).to_have_text("Unassigned")
    bruno.get_by_role("button", name="Claim").click()
    expect(bruno.locator("#action-error")).to_have_text("Admin Demo has this conversation.")
    expect(bruno.locator("#conversation-owner")).to_have_text("Admin Demo")


def test_canned_reply_with_slash_then_resolve_with_e(server, browser):
    page = operator(browser, server, "admin@demo.local")
    open_conversation(page, "Mariana Costa", "Mine")
    page.keyboard.press("r")
    box = page.locator("#reply-body")
    expect(box).to_be_focused()
    # The picker looks up as the operator types; the answer for "/p" is held back until after
    # the pick, as a slow network would: landing late, it must not reopen the picker.
    held = []
    page.route(lambda url: url.endswith("/canned?q=p"), lambda route: held.append(route))
    with page.expect_request(lambda request: request.url.endswith("/canned?q=p")):
        box.press_sequentially("/p")
    box.press_sequentially("ra")
    option = page.locator("#canned [role=option]").first
    expect(option).to_contain_text("/prazo")
    expect(option).to_contain_text("Mariana, o prazo de entrega")
    box.press("Enter")  # picks the reply; a second Enter sends it
    expect(box).to_have_value(re.compile(r"^Mariana, o prazo de entrega"))
    expect(page.locator("#canned")).to_be_hidden()
    with page.expect_request_finished(lambda request: request.url.endswith("/canned?q=p")):
        held[0].continue_()
    expect(page.locator("#canned")).to_be_hidden()
    box.press("Enter")
    expect(page.locator(".message.out", has_text="Mariana, o prazo de entrega")).to_be_visible()

    # A private note: on the thread for the team, never sent.
    page.locator(".mode-note").click()
    box.fill("Ligar amanhã se não chegar.")
    box.press("Enter")
    expect(page.locator(".note", has_text="Ligar amanhã")).to_be_visible()
    expect(page.locator(".message.out", has_text="Ligar amanhã")).to_have_count(0)

    box.press("Escape")
    page.keyboard.press("e")
    expect(page.locator("#conversation-status")).to_have_text("Resolved")
    expect(page.locator(".system", has_text="Resolved by Admin Demo")).to_be_visible()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()


def highlighted_for_good(page, conversation_id):
    """Wait until the list highlights the open conversation and no list drawn before it was
    picked (the socket's opening, the event of the conversation just read) can land after:
    such a list comes without the highlight, and nothing puts it back until the next refresh."""
    # The pick is done: the filters name the conversation, and every refresh from now on does.
    expect(page.locator("#list-filters input[name=current]")).to_have_value(conversation_id)
    list_redrawn(page, rf"current={conversation_id}(&|$)")
    row = page.locator(f'.conversation[data-conversation-id="{conversation_id}"]')
    expect(row).to_have_class(re.compile(r"\bactive\b"))


def test_j_and_k_move_between_conversations(server, browser):
    page = operator(browser, server, "admin@demo.local", path="/inbox/?tab=all")
    expect(page.locator("#list-filters input[value=all]")).to_be_checked()
    workspace = page.locator("#workspace")
    page.locator("body").press("j")
    expect(workspace).to_have_attribute("data-conversation", re.compile(r"\d+"))
    first = workspace.get_attribute("data-conversation")
    # The first move has finished (its thread loaded) before the next key is pressed.
    expect(page).to_have_url(re.compile(rf"/inbox/c/{first}/"))
    expect(page.locator("#conversation-status")).to_be_visible()
    # j and k move from the highlighted row.
    highlighted_for_good(page, first)
    # Read the order now, not at load: earlier tests' deliveries may have refreshed the list.
    order = page.eval_on_selector_all(
        "#conversation-items .conversation", "rows => rows.map(r => r.dataset.conversationId)"
    )
    second = order[order.index(first) + 1]
    page.locator("body").press("j")
    expect(workspace).to_have_attribute("data-conversation", second)
    expect(page).to_have_url(re.compile(rf"/inbox/c/{second}/"))
    highlighted_for_good(page, second)
    page.locator("body").press("k")
    expect(workspace).to_have_attribute("data-conversation", first)


def test_a_strangers_markup_is_shown_as_text_and_never_runs(server, browser):
    evil = (
        "<script>window.__pwned = 1</script>"
        '<img src=x onerror="window.__pwned = 2">'
        '<a href="javascript:window.__pwned = 3">clique</a>'
    )
    customer_writes(browser, server, "5511955557703", "<b>Eve</b>", evil)
    page = operator(browser, server, "admin@demo.local")
    show_tab(page, "All")
    entry = page.locator(".conversation", has_text="<b>Eve</b>")
    expect(entry).to_be_visible()
    entry.click()
    bubble = page.locator(".message.in .bubble").last
    expect(bubble).to_contain_text("<script>window.__pwned = 1</script>")
    expect(bubble).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    bubble.get_by_text("clique").click()
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".bubble img, .bubble script, .bubble a, .preview img").count() == 0
    page.reload()
    assert page.evaluate("window.__pwned") is None


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_layout_on_a_phone_and_a_wide_screen(server, browser, scheme):
    wide = operator(browser, server, "ana@demo.local", width=1440, height=900, scheme=scheme)
    open_conversation(wide, "Carla Mendes", "Mine")
    expect(wide.locator("#contact-panel")).to_be_visible()
    expect(wide.locator(".message-error").first).to_contain_text("Not sent")
    no_horizontal_overflow(wide)
    wide.screenshot(path=str(ARTIFACTS / f"inbox-1440-{scheme}.png"))
    wide.locator(".more-filters summary").click()
    wide.screenshot(path=str(ARTIFACTS / f"inbox-1440-{scheme}-filters.png"))

    phone = operator(browser, server, "ana@demo.local", width=375, height=740, scheme=scheme)
    expect(phone.locator(".conversations")).to_be_visible()
    no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / f"inbox-375-{scheme}-list.png"))
    show_tab(phone, "Mine")
    phone.locator(".conversation", has_text="Carla Mendes").click()
    expect(phone.locator(".composer")).to_be_visible()
    expect(phone.locator(".list-pane")).to_be_hidden()
    no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / f"inbox-375-{scheme}-thread.png"))
    phone.get_by_role("button", name="Contact details").click()
    expect(phone.locator("#contact-panel")).to_be_visible()
    phone.screenshot(path=str(ARTIFACTS / f"inbox-375-{scheme}-contact.png"))
    phone.locator(".contact-close").click()
    phone.get_by_role("link", name="Back to conversations").click()
    expect(phone.locator(".conversations")).to_be_visible()


def test_snooze_mark_pending_and_priority_from_the_header(server, browser):
    customer_writes(browser, server, "5511955557701", "Paulo Lima", "Preciso de ajuda urgente")
    page = operator(browser, server, "admin@demo.local")
    show_tab(page, "All")
    expect(page.locator(".conversation", has_text="Paulo Lima")).to_be_visible()
    open_conversation(page, "Paulo Lima")

    page.get_by_label("Priority").select_option(label="Urgent priority")
    expect(
        page.locator(".system", has_text="Admin Demo set the priority to urgent")
    ).to_be_visible()
    row = page.locator(".conversation", has_text="Paulo Lima")
    expect(row.locator(".priority-3")).to_have_text("Urgent")

    page.get_by_role("button", name="Mark pending").click()
    expect(page.locator("#conversation-status")).to_have_text("Pending")
    expect(page.locator(".system", has_text="marked it pending")).to_be_visible()

    page.locator('[data-action="snooze"]').click()
    page.screenshot(path=str(ARTIFACTS / "inbox-1440-light-snooze-menu.png"))
    page.get_by_role("button", name="Tomorrow").click()
    expect(page.locator("#conversation-status")).to_have_text("Snoozed")
    expect(page.locator("#snoozed-until")).to_contain_text("until")
    expect(page.locator(".system", has_text="Admin Demo snoozed it until")).to_be_visible()
    expect(row.locator(".status-snoozed")).to_contain_text("Snoozed until")

    page.locator('[data-action="snooze"]').click()
    page.get_by_role("button", name="Until the customer replies").click()
    expect(page.locator("#snoozed-until")).to_have_text("until the customer replies")
    expect(row.locator(".status-snoozed")).to_have_text("Snoozed until a reply")
    page.screenshot(path=str(ARTIFACTS / "inbox-1440-light-snoozed.png"))

    # The customer's next message wakes it, live.
    customer_writes(browser, server, "5511955557701", "Paulo Lima", "Voltei!")
    expect(page.locator("#conversation-status")).to_have_text("Open")
    expect(page.locator(".system", has_text="The customer wrote: open again")).to_be_visible()


def test_a_tag_and_a_canned_reply_made_on_their_pages_are_used_in_a_conversation(server, browser):
    customer_writes(browser, server, "5511955557702", "Rita Alves", "Quando vocês retornam?")
    page = operator(browser, server, "admin@demo.local")
    page.get_by_role("link", name="Inbox settings").click()
    expect(page.get_by_role("heading", name="Tags")).to_be_visible()

    page.get_by_label("Name").fill("Retorno")
    page.locator(".swatch.tag-teal").click()
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#tag-rows .tag-chip.tag-teal", has_text="Retorno")).to_be_visible()
    page.get_by_label("Name").fill("retorno")
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("#tag-error")).to_contain_text("exists")

    page.locator(".subnav").get_by_role("link", name="Canned replies").click()
    page.get_by_role("link", name="New canned reply").click()
    page.get_by_label("Shortcode").fill("retorno")
    body = page.get_by_label("Reply")
    body.fill("Oi {{contact.nome}}, retornamos em até 2 horas.")
    expect(page.locator("#canned-problems")).to_contain_text(
        "Unknown variable(s): {{contact.nome}}"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#canned-error")).to_contain_text("{{contact.nome}}")
    page.get_by_label("Reply").fill("Oi {{contact.first_name}}, retornamos em até 2 horas.")
    expect(page.locator("#canned-problems")).to_be_empty()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#canned-rows")).to_contain_text("/retorno")

    page.get_by_role("link", name="Inbox", exact=True).click()
    open_conversation(page, "Rita Alves")
    page.locator("#add-tag-conversation").select_option(label="Retorno")
    expect(page.locator(".thread-state .tag-chip", has_text="Retorno")).to_be_visible()
    page.keyboard.press("r")
    box = page.locator("#reply-body")
    box.press_sequentially("/reto")
    option = page.locator("#canned [role=option]").first
    expect(option).to_contain_text("Oi Rita, retornamos em até 2 horas.")
    box.press("Enter")
    expect(box).to_have_value("Oi Rita, retornamos em até 2 horas.")


SETTINGS_PAGES = {
    "tags": "/inbox/settings/tags",
    "canned": "/inbox/settings/canned",
    "canned-form": "/inbox/settings/canned/new",
    "hours": "/inbox/settings/hours",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_settings_pages_on_a_phone_and_a_wide_screen(server, browser, scheme):
    for width, height in ((1440, 900), (375, 740)):
        page = operator(
            browser, server, "admin@demo.local", width=width, height=height, scheme=scheme
        )
        for name, path in SETTINGS_PAGES.items():
            page.goto(f"{server['url']}{path}")
            expect(page.locator(".subnav [aria-current=page]")).to_be_visible()
            if name == "tags":
                page.locator("#tag-rows details.confirm summary").first.click()
            if name == "canned-form":
                page.get_by_label("Reply").fill("Oi {{contact.nme}}")
                expect(page.locator("#canned-problems .field-error")).to_be_visible()
            no_horizontal_overflow(page)
            page.screenshot(
                path=str(ARTIFACTS / f"settings-{name}-{width}-{scheme}.png"), full_page=True
            )
        page.context.close()


def test_a_queue_made_on_its_page_routes_its_number_with_sla_targets(server, browser):
    page = operator(browser, server, "admin@demo.local")
    page.get_by_role("link", name="Inbox settings").click()
    page.locator(".subnav").get_by_role("link", name="Queues").click()
    demo_queue = page.locator(".queue-row").filter(
        has=page.get_by_role("link", name="Atendimento", exact=True)
    )
    expect(demo_queue).to_contain_text("First response 1 h")

    page.get_by_role("link", name="New queue").click()
    page.get_by_label("Name").fill("Comercial")
    ana = page.locator(".member-pick", has_text="Ana Souza")
    ana.locator('input[name="members"]').check()
    ana.get_by_label("Capacity of Ana Souza").fill("4")
    page.locator('input[name="numbers"]').first.check()
    expect(page.locator(".queue-form")).to_contain_text("new conversations go to “Atendimento”")
    page.get_by_label("Least load").check()
    page.get_by_label("First response").fill("30")
    page.get_by_label("Resolution").fill("240")
    page.get_by_role("button", name="Create queue").click()
    row = page.locator(".queue-row", has_text="Comercial")
    expect(row).to_contain_text("First response 30 min")
    expect(row).to_contain_text("Resolution 4 h")
    expect(row).to_contain_text("Least load")
    expect(row.locator(".queue-member", has_text="Ana Souza")).to_contain_text("/4")
    expect(row).to_contain_text("new ones go to Atendimento")
    page.screenshot(path=str(ARTIFACTS / "settings-queues-1440-light-two.png"), full_page=True)

    # The name is the organization's: another spelling of it is refused on the form.
    page.get_by_role("link", name="New queue").click()
    page.get_by_label("Name").fill("comercial")
    page.get_by_role("button", name="Create queue").click()
    expect(page.locator("#name-error")).to_have_text("A queue named “comercial” exists.")
    expect(page.get_by_label("Name")).to_have_value("comercial")
    page.get_by_role("link", name="Cancel").click()

    # Deleting the older queue hands the number's new conversations to Comercial.
    demo_queue.locator("summary", has_text="Delete").click()
    expect(demo_queue.locator(".confirm-body")).to_contain_text("in no queue")
    demo_queue.get_by_role("button", name="Delete queue").click()
    expect(demo_queue).to_have_count(0)
    expect(row).not_to_contain_text("new ones go to")

    customer_writes(browser, server, "5511955557704", "Renata Dias", "Vocês têm plano anual?")
    page.get_by_role("link", name="Inbox", exact=True).click()
    show_tab(page, "All")
    expect(page.locator(".conversation", has_text="Renata Dias")).to_be_visible()
    open_conversation(page, "Renata Dias")
    expect(page.locator(".thread-title")).to_contain_text("Comercial")
    expect(page.locator("#sla-first_response")).to_contain_text("First response")

    for scheme in ("light", "dark"):
        for width, height in ((1440, 900), (375, 740)):
            shot = operator(
                browser, server, "admin@demo.local", width=width, height=height, scheme=scheme
            )
            shot.goto(f"{server['url']}/inbox/settings/queues")
            listed = shot.locator(".queue-row", has_text="Comercial")
            expect(listed).to_be_visible()
            no_horizontal_overflow(shot)
            shot.screenshot(
                path=str(ARTIFACTS / f"settings-queues-{width}-{scheme}.png"), full_page=True
            )
            listed.get_by_role("link", name="Edit").click()
            expect(shot.get_by_label("Name")).to_have_value("Comercial")
            no_horizontal_overflow(shot)
            shot.screenshot(
                path=str(ARTIFACTS / f"settings-queue-form-{width}-{scheme}.png"), full_page=True
            )
            shot.context.close()
