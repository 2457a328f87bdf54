"""A teacher in a real browser (headless Chromium through Selenium) on Spiegel's try-out page.

Driven over JSON lines: one command per line on stdin, exactly one reply line per command on
stdout ({"ok": true, ...} or {"ok": false, "error": "..."}, with the command's "id" echoed).
Logs go to stderr. Every wait has a timeout.

Commands (see the cmd_ methods):
  ping
  open          {url}                       loads a page (the first call starts the browser)
  reload                                    reloads the page
  type          {text, enter?}              types into the message box, then Enter (default true)
  click         {text, timeout?}            clicks the enabled button whose text is text
  keys          {keys}                      sends keys to the focused element: TAB, SHIFT_TAB,
                                            ENTER, SPACE, or text
  focused                                   the focused element: {tag, element (its id), text}
  messages                                  the bubbles: [{from, text, pending, failed}]
  choices                                   the labels of the buttons offered for the question
  wait_messages {count, timeout?}           until count bubbles are there and none is pending
  wait_text     {text, timeout?}            until a bubble holds text
  wait_visible  {element, timeout?}         until the element with that id is shown; its text
  visible       {element}                   whether the element with that id is shown, and its text
  layout                                    {scroll_width, client_width, inner_width}
  storage                                   what the page can see of its storage and cookies
  cookies                                   the browser's cookies, with their flags
  resources                                 the URLs the page loaded
  console                                   the browser's console messages (CSP reports among them)
  screenshot    {path}
  exit
"""

import argparse
import json
import logging
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

log = logging.getLogger("tryout_browser")

KEYS = {"TAB": Keys.TAB, "ENTER": Keys.ENTER, "SPACE": Keys.SPACE, "SHIFT_TAB": Keys.SHIFT + Keys.TAB}

MESSAGES_JS = """
return Array.from(document.querySelectorAll('#log .message')).map((element) => ({
  from: element.classList.contains('teacher') ? 'teacher' : 'spiegel',
  text: (element.firstChild && element.firstChild.nodeType === 3 ? element.firstChild.textContent : element.textContent),
  pending: element.classList.contains('pending'),
  failed: element.classList.contains('failed'),
}));
"""


class CommandError(Exception):
    """A command that failed: its message is the reply's "error"."""


class Browser:
    def __init__(self, width, height, language, chromedriver):
        self.width, self.height, self.language, self.chromedriver = width, height, language, chromedriver
        self.driver = None

    def start(self):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking",
                         f"--window-size={self.width},{self.height}", f"--lang={self.language}"):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": self.language})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=self.chromedriver))
        # The window's outer size includes no chrome in headless mode, but make the viewport exact.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height, "deviceScaleFactor": 2, "mobile": True,
        })
        self.driver.set_page_load_timeout(30)

    def wait(self, timeout, what, check):
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = check()
            except (StaleElementReferenceException,):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise CommandError(f"{what} did not happen within {timeout} s; bubbles: {self.messages()}")
            time.sleep(0.1)

    def messages(self):
        return self.driver.execute_script(MESSAGES_JS) if self.driver else []

    # ---- commands ----

    def cmd_ping(self, command):
        return {}

    def cmd_open(self, command):
        if self.driver is None:
            self.start()
        self.driver.get(command["url"])
        return {"title": self.driver.title}

    def cmd_reload(self, command):
        self.driver.refresh()
        return {}

    def cmd_type(self, command):
        box = self.driver.find_element(By.ID, "text")
        box.click()
        box.send_keys(command["text"])
        if command.get("enter", True):
            box.send_keys(Keys.ENTER)
        return {}

    def cmd_click(self, command):
        text = command["text"]

        def find():
            for button in self.driver.find_elements(By.TAG_NAME, "button"):
                if button.is_displayed() and button.is_enabled() and button.text.strip() == text:
                    return button
            return None

        button = self.wait(command.get("timeout", 10), f"a button {text!r}", find)
        button.click()
        return {}

    def cmd_keys(self, command):
        active = self.driver.switch_to.active_element
        for key in command["keys"]:
            active.send_keys(KEYS.get(key, key))
            active = self.driver.switch_to.active_element
        return {}

    def cmd_focused(self, command):
        element = self.driver.switch_to.active_element
        return {"tag": element.tag_name, "element": element.get_attribute("id") or "", "text": element.text}

    def cmd_messages(self, command):
        return {"messages": self.messages()}

    def cmd_choices(self, command):
        buttons = self.driver.find_elements(By.CSS_SELECTOR, "#log .choices button")
        return {"choices": [button.text for button in buttons if button.is_enabled()]}

    def cmd_wait_messages(self, command):
        count = command["count"]

        def enough():
            messages = self.messages()
            return len(messages) >= count and not any(m["pending"] for m in messages) and messages
        return {"messages": self.wait(command.get("timeout", 15), f"{count} bubbles", enough)}

    def cmd_wait_text(self, command):
        text = command["text"]
        self.wait(command.get("timeout", 15), f"a bubble with {text!r}", lambda: any(text in m["text"] for m in self.messages()))
        return {"messages": self.messages()}

    def cmd_wait_visible(self, command):
        element_id = command["element"]

        def shown():
            element = self.driver.find_element(By.ID, element_id)
            return element.is_displayed() and (element.text or " ")
        return {"text": self.wait(command.get("timeout", 15), f"#{element_id} shown", shown)}

    def cmd_visible(self, command):
        element = self.driver.find_element(By.ID, command["element"])
        return {"shown": element.is_displayed(), "text": element.text}

    def cmd_layout(self, command):
        return self.driver.execute_script(
            "return {scroll_width: document.documentElement.scrollWidth, client_width: document.documentElement.clientWidth,"
            " inner_width: window.innerWidth, body_scroll_width: document.body.scrollWidth};")

    def cmd_storage(self, command):
        return self.driver.execute_script(
            "return {local: localStorage.length, session: sessionStorage.length, cookie: document.cookie};")

    def cmd_cookies(self, command):
        return {"cookies": self.driver.get_cookies()}

    def cmd_resources(self, command):
        return {"urls": self.driver.execute_script(
            "return [location.href].concat(performance.getEntriesByType('resource').map((entry) => entry.name));")}

    def cmd_console(self, command):
        return {"entries": [entry.get("message", "") for entry in self.driver.get_log("browser")]}

    def cmd_screenshot(self, command):
        if not self.driver.save_screenshot(command["path"]):
            raise CommandError("the screenshot was not written")
        return {}

    def quit(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except WebDriverException:
                pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=390)
    parser.add_argument("--height", type=int, default=844)
    parser.add_argument("--language", default="nl-BE")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    arguments = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    browser = Browser(arguments.width, arguments.height, arguments.language, arguments.chromedriver)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            reply = {"id": command.get("id")}
            name = command.get("cmd", "")
            if name == "exit":
                print(json.dumps({"ok": True, **reply}), flush=True)
                break
            handler = getattr(browser, "cmd_" + name, None)
            try:
                if handler is None:
                    raise CommandError(f"no command {name!r}")
                log.info("%s", name)
                reply.update(handler(command))
                reply["ok"] = True
            except CommandError as error:
                reply.update(ok=False, error=str(error))
            except WebDriverException as error:
                reply.update(ok=False, error=f"{name}: {error.msg or type(error).__name__}")
            print(json.dumps(reply), flush=True)
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
