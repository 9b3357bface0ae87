"""Every role's main pages on a phone (390×844) and a small laptop (1366×768), in Chromium.

On the phone: nothing is wider than the screen, no box scrolls sideways, every visible table is
a card list (its header row hidden, every cell labelled, no cell hidden), no cell squeezes
Chinese text to a couple of characters a line, every button, form control, pagination link and
the bell is at least 44×44 px, and the header's 菜单 button opens the navigation (with the
keyboard too). On the laptop: nothing is wider than the screen and the header is two tidy rows.
A screenshot of every page goes to test-artifacts/screenshots/phone-<role>-<page>.png
(desktop-<role>-<page>.png for the laptop).
"""

import pytest

from .conftest import DESKTOP, PHONE, save_screenshot
from .main_pages import ROLES, USERNAMES, main_pages, visit_main_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MIN_TARGET = 44

# What a page breaks on a phone, measured in the page; a list of readable problems.
PHONE_PROBLEMS_JS = """
(minTarget) => {
  const problems = [];
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    const style = getComputedStyle(el);
    return style.visibility !== 'hidden' && style.display !== 'none';
  };
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.title || '').trim().replace(/\\s+/g, ' ');
    const classes = el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    return `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${classes}> "${text.slice(0, 30)}"`;
  };
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    const wide = [...document.querySelectorAll('body *')].filter(
      (el) => visible(el) && el.getBoundingClientRect().right > window.innerWidth + 1
    );
    problems.push(`page is ${root.scrollWidth}px wide for a ${window.innerWidth}px screen; widest: ` +
      wide.slice(-3).map(describe).join(', '));
  }
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.tagName === 'TEXTAREA') continue;
    const overflowX = getComputedStyle(el).overflowX;
    if ((overflowX === 'auto' || overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`sideways scroll box ${describe(el)}: ${el.scrollWidth}px content in ${el.clientWidth}px`);
    }
  }
  for (const table of document.querySelectorAll('main table')) {
    if (!visible(table)) continue;
    const name = describe(table).slice(0, 60);
    if (!table.classList.contains('table--cards')) {
      problems.push(`table not in card mode (no table--cards): ${name}`);
      continue;
    }
    const thead = table.tHead;
    if (thead && visible(thead) && thead.getBoundingClientRect().height > 1) {
      problems.push(`card table shows its header row: ${name}`);
    }
    for (const td of table.querySelectorAll('tbody td')) {
      if (!td.getAttribute('data-label') && !td.classList.contains('card-title-cell') && !td.hasAttribute('colspan')) {
        problems.push(`card cell without data-label in ${name}: ${describe(td)}`);
      }
      if (td.innerText.trim() && !visible(td)) {
        problems.push(`hidden cell with content in ${name}: ${describe(td)}`);
      }
    }
  }
  const cjk = /[\\u4e00-\\u9fff]{3,}/;
  for (const el of document.querySelectorAll('main td, main th, main dd, main dt, main p, main li, main label, main h1, main h2, main h3')) {
    if (!visible(el) || !cjk.test(el.innerText || '')) continue;
    if (el.getBoundingClientRect().width <= 1 || el.closest('thead')) continue;  // visually hidden (for screen readers)
    const style = getComputedStyle(el);
    if (style.display === 'inline') continue;  // wraps with its parent, which is checked
    const fontSize = parseFloat(style.fontSize);
    const width = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    // Only text a reader sees counts (not a visually hidden label inside the element).
    const shownText = () => {
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      let text = '';
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement.getBoundingClientRect().width > 1) text += node.textContent;
      }
      return text;
    };
    if (width < 3 * fontSize && cjk.test(shownText())) {
      problems.push(`Chinese text squeezed to ${Math.round(width)}px (${Math.floor(width / fontSize)} characters a line): ${describe(el)}`);
    }
  }
  const targets = 'main a.button, main button, main input:not([type=hidden]), main select, main textarea, ' +
    'main summary, main .pagination a, main nav a, .topbar a, .topbar button, .topbar summary';
  for (const el of document.querySelectorAll(targets)) {
    if (!visible(el) || el.closest('table.table--cards thead')) continue;  // a card table's head is for screen readers
    let box = el.getBoundingClientRect();
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
      if (label) box = label.getBoundingClientRect();
    }
    if (box.width < minTarget - 0.5 || box.height < minTarget - 0.5) {
      problems.push(`touch target ${Math.round(box.width)}×${Math.round(box.height)}px: ${describe(el)}`);
    }
  }
  return problems;
}
"""

DESKTOP_PROBLEMS_JS = """
() => {
  const problems = [];
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    problems.push(`page is ${root.scrollWidth}px wide for a ${window.innerWidth}px screen`);
  }
  const links = [...document.querySelectorAll('.topbar .nav a')].filter((a) => a.getClientRects().length);
  const rows = new Set(links.map((a) => Math.round(a.getBoundingClientRect().top)));
  if (rows.size > 1) problems.push(`the navigation wraps onto ${rows.size} lines`);
  const header = document.querySelector('.topbar');
  if (header && header.getBoundingClientRect().height > 110) {
    problems.push(`the header is ${Math.round(header.getBoundingClientRect().height)}px high`);
  }
  return problems;
}
"""


@pytest.fixture
def pages(world, fast_password_hashes):
    return main_pages(world)


def _context_page(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.live_server_url = live_server.url
    return context, page


def _phone_problems(browser, live_server, pages, role, shot_prefix):
    context, page = _context_page(browser, live_server, PHONE)
    problems = []
    try:
        for label, path in visit_main_pages(page, role, pages):
            for problem in page.evaluate(PHONE_PROBLEMS_JS, MIN_TARGET):
                problems.append(f"{label} ({path}): {problem}")
            save_screenshot(page, f"{shot_prefix}-{role}-{label}")
    finally:
        context.close()
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_every_main_page_fits_a_phone_as_cards_with_touch_sized_targets(browser, live_server, pages, role):
    problems = _phone_problems(browser, live_server, pages, role, "phone")
    assert not problems, f"{USERNAMES[role]} on a 390×844 phone:\n" + "\n".join(problems)


def test_the_county_offices_pages_fit_a_phone_in_large_text_mode_too(browser, live_server, pages):
    from enterprises.models import Profile

    Profile.objects.filter(user__username=USERNAMES["county"]).update(large_text=True)
    problems = _phone_problems(browser, live_server, pages, "county", "phone-large-text")
    assert not problems, "county01 on a 390×844 phone in 大字模式:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_main_page_fits_a_small_laptop(browser, live_server, pages, role):
    context, page = _context_page(browser, live_server, DESKTOP)
    problems = []
    try:
        for label, path in visit_main_pages(page, role, pages):
            for problem in page.evaluate(DESKTOP_PROBLEMS_JS):
                problems.append(f"{label} ({path}): {problem}")
            if label in ("dashboard", "review-queue", "rankings", "tasks", "checkin"):
                save_screenshot(page, f"desktop-{role}-{label}", full_page=False)
    finally:
        context.close()
    assert not problems, f"{USERNAMES[role]} at 1366×768:\n" + "\n".join(problems)


def test_the_phone_header_keeps_the_bell_and_user_and_opens_the_menu_by_keyboard(browser, live_server, pages):
    context, page = _context_page(browser, live_server, PHONE)
    try:
        next(visit_main_pages(page, "city", pages))  # logs in, opens the dashboard
        nav_links = page.locator(".topbar .nav a")
        button = page.locator(".topbar .menu-button")
        assert button.is_visible(), "no 菜单 button on a phone"
        assert "菜单" in button.inner_text()
        assert button.get_attribute("aria-expanded") == "false"
        assert not nav_links.first.is_visible(), "the navigation is not collapsed on a phone"
        assert page.locator(".topbar .bell").is_visible()
        assert page.locator(".topbar .whoami__name").is_visible()
        save_screenshot(page, "phone-city-menu-closed", full_page=False)

        button.focus()
        page.keyboard.press("Enter")
        assert button.get_attribute("aria-expanded") == "true"
        assert nav_links.first.is_visible()
        assert page.locator(".topbar .whoami__logout button", has_text="退出").is_visible()
        save_screenshot(page, "phone-city-menu-open", full_page=False)
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('.topbar') !== null")
        assert focused, "Tab from the menu button leaves the opened menu"

        page.keyboard.press("Escape")
        assert button.get_attribute("aria-expanded") == "false"
        assert not nav_links.first.is_visible()
        assert page.evaluate("document.activeElement.classList.contains('menu-button')"), "Escape loses the focus"

        button.click()
        with page.expect_navigation():
            page.locator(".topbar .nav a", has_text="排名").click()
        assert "/rankings/" in page.url
    finally:
        context.close()
