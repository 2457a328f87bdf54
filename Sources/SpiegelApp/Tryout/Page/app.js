// The try-out chat of Spiegel. The conversation lives on the server (in the vault); this page
// only shows it: it reads /tryout/messages from where it is, waiting for what comes next, and
// sends the teacher's words there. Nothing is kept in the browser but the id cookie.
'use strict';

(() => {
  const texts = {
    nl: {
      subtitle: 'proefgesprek',
      intro: 'Dit is een proefgesprek met Spiegel, een coach voor reflectie na je les. Spiegel stelt vragen; de antwoorden komen van jou.',
      privacy: 'Wat je schrijft, bewaart Spiegel versleuteld op deze server, onder een willekeurige naam voor deze browser. “Mijn gegevens” toont alles wat bewaard is; “Vergeet mij” wist het.',
      begin: 'Begin een reflectie',
      first: 'hallo',
      label: 'Je antwoord',
      placeholder: 'Schrijf je antwoord…',
      send: 'Verstuur',
      typing: 'Spiegel schrijft…',
      offline: 'Geen verbinding met Spiegel. Ik probeer het opnieuw…',
      problem: 'Er is een probleem met de Prompts. Wat niet genomen is, geldt nog niet: het gesprek gaat verder met de vorige versie.',
      failed: 'Niet verstuurd. Opnieuw proberen',
      mydata: 'Mijn gegevens',
      mydataCommand: 'mijn gegevens',
      forget: 'Vergeet mij',
      forgetCommand: 'vergeet mij',
      hint: 'Enter verstuurt, Shift+Enter begint een nieuwe regel.',
      choose: 'Kies een antwoord',
      cookies: 'Deze pagina heeft een cookie nodig om je gesprek terug te vinden. Sta cookies toe voor deze site en laad de pagina opnieuw.',
      other: 'English',
      otherLang: 'en',
    },
    en: {
      subtitle: 'try-out',
      intro: 'This is a try-out conversation with Spiegel, a coach for reflecting after a lesson. Spiegel asks; the answers are yours.',
      privacy: 'What you write is kept encrypted on this server, under a random name for this browser. “My data” shows everything kept; “Forget me” erases it.',
      begin: 'Start a reflection',
      first: 'hello',
      label: 'Your answer',
      placeholder: 'Write your answer…',
      send: 'Send',
      typing: 'Spiegel is writing…',
      offline: 'No connection to Spiegel. Trying again…',
      problem: 'There is a problem with the Prompts. What was not taken does not apply yet: the conversation goes on with the previous version.',
      failed: 'Not sent. Try again',
      mydata: 'My data',
      mydataCommand: 'my data',
      forget: 'Forget me',
      forgetCommand: 'forget me',
      hint: 'Enter sends, Shift+Enter starts a new line.',
      choose: 'Choose an answer',
      cookies: 'This page needs a cookie to find your conversation again. Allow cookies for this site and reload the page.',
      other: 'Nederlands',
      otherLang: 'nl',
    },
  };

  const $ = (id) => document.getElementById(id);
  const log = $('log');
  const input = $('text');
  const typing = $('typing');
  let language = (navigator.language || 'nl').toLowerCase().startsWith('en') ? 'en' : 'nl';

  /** What the server said: its epoch, the last line read, the lines as shown. */
  const state = { epoch: null, reloads: null, next: 0, lines: [], shownIDs: new Set(), pending: new Map(), typingTimer: null, stopTypingTimer: null };

  function t(key) { return texts[language][key]; }

  function applyLanguage() {
    document.documentElement.lang = language;
    document.title = 'Spiegel · ' + t('subtitle');
    for (const element of document.querySelectorAll('[data-t]')) element.textContent = t(element.dataset.t);
    input.placeholder = t('placeholder');
    const other = $('language');
    other.textContent = t('other');
    other.lang = t('otherLang');
  }

  // ---- Reading the conversation ----

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function readForever() {
    let delay = 1000;
    let wait = 0;
    for (;;) {
      const query = new URLSearchParams({ after: String(state.next), wait: String(wait) });
      if (state.epoch) query.set('epoch', state.epoch);
      if (state.reloads !== null) query.set('reloads', String(state.reloads));
      try {
        const response = await fetch('/tryout/messages?' + query, { cache: 'no-store' });
        if (response.status === 401) { showCookieProblem(); return; }
        if (!response.ok) throw new Error('status ' + response.status);
        apply(await response.json());
        $('offline').hidden = true;
        delay = 1000;
        wait = 25;
      } catch (error) {
        $('offline').hidden = false;
        await sleep(delay);
        delay = Math.min(delay * 2, 8000);
        wait = 0;
      }
    }
  }

  function showCookieProblem() {
    const box = $('problem');
    box.hidden = false;
    box.querySelector('strong').textContent = t('cookies');
    $('problem-text').textContent = '';
  }

  function apply(page) {
    if (page.reset) {
      for (const element of log.querySelectorAll('.message, .choices')) element.remove();
      state.lines = [];
      state.shownIDs.clear();
      // A message on its way is shown again: where the server has it, else after the rest.
      for (const entry of state.pending.values()) entry.element = null;
    }
    for (const line of page.messages) {
      // A message sent again (after "too many at once") is the one already shown.
      if (line.id && state.shownIDs.has(line.id)) continue;
      if (line.id) state.shownIDs.add(line.id);
      const entry = line.id ? state.pending.get(line.id) : undefined;
      let element;
      if (entry && entry.element) {
        element = entry.element;
        element.classList.remove('pending', 'failed');
      } else {
        element = show(line.from, line.text);
        if (entry) entry.element = element;
      }
      if (entry) state.pending.delete(line.id);
      state.lines.push({ from: line.from, text: line.text, element });
      if (line.from === 'spiegel') stopTyping();
    }
    for (const [id, entry] of state.pending) {
      if (entry.element) continue;
      entry.element = show('teacher', entry.shown, { pending: true });
      if (entry.failed) markFailed(id, entry);
    }
    state.epoch = page.epoch;
    state.next = page.next;
    state.reloads = page.reloads;
    const problem = $('problem');
    problem.hidden = !page.problem;
    if (page.problem) {
      problem.querySelector('strong').textContent = t('problem');
      $('problem-text').textContent = page.problem;
    }
    $('intro').hidden = state.lines.length > 0 || state.pending.size > 0;
    offerChoices();
  }

  /** A choice's options are its last lines, numbered from 1: "1. Tien minuten of meer". */
  function parseChoice(text) {
    const lines = text.split('\n');
    const options = [];
    let index = lines.length - 1;
    while (index > 0) {
      const match = /^(\d{1,2})\. (.+)$/.exec(lines[index]);
      if (!match) break;
      options.unshift({ number: Number(match[1]), label: match[2] });
      index -= 1;
    }
    if (options.length < 2 || options.some((option, position) => option.number !== position + 1)) return null;
    return { question: lines.slice(0, index + 1).join('\n'), options };
  }

  function isScale(text) {
    return /\b1 (tot|to) 10\b/.test(text);
  }

  /** A teacher's "2" after a choice is shown as the option it chose. */
  function shownAs(from, text) {
    if (from !== 'teacher' || !/^\d{1,2}$/.test(text.trim())) return text;
    const previous = state.lines.length ? state.lines[state.lines.length - 1] : null;
    const choice = previous && previous.from === 'spiegel' ? parseChoice(previous.text) : null;
    const option = choice && choice.options.find((candidate) => candidate.number === Number(text.trim()));
    return option ? option.label : text;
  }

  function show(from, text, options = {}) {
    const element = document.createElement('div');
    element.className = 'message ' + from + (options.pending ? ' pending' : '');
    // A choice's options become buttons under it (and the teacher's answer shows the one chosen).
    const choice = from === 'spiegel' ? parseChoice(text) : null;
    element.textContent = choice ? choice.question : shownAs(from, text);
    log.appendChild(element);
    element.scrollIntoView({ block: 'end' });
    return element;
  }

  /** Buttons for the question Spiegel waits on: a choice's options, or 1 to 10 for a scale. */
  function offerChoices() {
    // Kept as they are while the question is the same: a keyboard user's focus stays put.
    const key = state.lines.length + ':' + language + ':' + state.pending.size;
    const current = log.querySelector('.choices');
    if (current && current.dataset.key === key) return;
    for (const old of log.querySelectorAll('.choices')) old.remove();
    const last = state.lines[state.lines.length - 1];
    if (!last || last.from !== 'spiegel' || state.pending.size > 0) return;
    const choice = parseChoice(last.text);
    const buttons = choice
      ? choice.options.map((option) => ({ label: option.label, send: String(option.number) }))
      : isScale(last.text)
        ? Array.from({ length: 10 }, (_, index) => ({ label: String(index + 1), send: String(index + 1) }))
        : [];
    if (!buttons.length) return;
    const group = document.createElement('div');
    group.className = 'choices' + (choice ? '' : ' scale');
    group.dataset.key = key;
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', t('choose'));
    for (const option of buttons) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = option.label;
      button.addEventListener('click', () => {
        for (const other of group.querySelectorAll('button')) other.disabled = true;
        button.classList.add('chosen');
        send(option.send, option.label);
        input.focus();
      });
      group.appendChild(button);
    }
    last.element.after(group);
    group.scrollIntoView({ block: 'end' });
  }

  // ---- Sending ----

  function newID() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  function send(text, shown = text) {
    const id = newID();
    $('intro').hidden = true;
    const element = show('teacher', shown, { pending: true });
    state.pending.set(id, { text, shown, element });
    for (const old of log.querySelectorAll('.choices')) old.remove();
    startTyping();
    post(id);
  }

  async function post(id) {
    const entry = state.pending.get(id);
    if (!entry) return;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch('/tryout/messages', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id, text: entry.text }),
          cache: 'no-store',
        });
        if (response.status === 429 && attempt < 20) {
          await sleep(1000 * Math.max(1, Number(response.headers.get('Retry-After')) || 2));
          continue;
        }
        if (!response.ok) throw new Error('status ' + response.status);
        if (entry.element) entry.element.classList.remove('pending', 'failed');
        return;
      } catch (error) {
        stopTyping();
        entry.failed = true;
        markFailed(id, entry);
        return;
      }
    }
  }

  /** A message the server did not take: shown as such, with a button to send it again. */
  function markFailed(id, entry) {
    if (!entry.element || entry.element.querySelector('.retry')) return;
    entry.element.classList.add('failed');
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'link retry';
    retry.textContent = t('failed');
    retry.addEventListener('click', () => {
      retry.remove();
      entry.failed = false;
      entry.element.classList.remove('failed');
      startTyping();
      post(id);
    });
    entry.element.appendChild(retry);
  }

  function startTyping() {
    clearTimeout(state.typingTimer);
    clearTimeout(state.stopTypingTimer);
    // Shown only when a turn is slow; gone when Spiegel answers, or after a while regardless.
    state.typingTimer = setTimeout(() => { typing.hidden = false; }, 300);
    state.stopTypingTimer = setTimeout(stopTyping, 30000);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    clearTimeout(state.stopTypingTimer);
    typing.hidden = true;
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    resize();
    send(text);
  }

  function resize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 144) + 'px';
  }

  $('composer').addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  input.addEventListener('input', resize);
  $('begin').addEventListener('click', () => { send(t('first')); input.focus(); });
  $('mydata').addEventListener('click', () => send(t('mydataCommand')));
  $('forget').addEventListener('click', () => send(t('forgetCommand')));
  $('language').addEventListener('click', () => {
    language = t('otherLang');
    applyLanguage();
    offerChoices();
  });

  applyLanguage();
  readForever();
})();
