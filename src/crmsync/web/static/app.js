// crmsync admin UI: popups for OAuth, dialogs, live counts. No framework, no build step.
(() => {
  "use strict";

  const POLL_MS = 2000;
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  let popup = null;
  let popupWatch = null;
  let popupCard = null; // the id of the card a connect started from
  let cardMessage = null; // {cardId, text}: shown again after a live refresh redraws the card
  let refreshing = false;

  function announce(text) {
    const live = document.getElementById("live");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  }

  function showError(text) {
    const box = document.querySelector("[data-js-error]");
    if (!box) { window.alert(text); return; }
    box.textContent = text;
    box.hidden = false;
  }

  function clearError() {
    cardMessage = null;
    document.querySelectorAll("[data-js-error], [data-card-message]").forEach((box) => {
      box.hidden = true;
      box.textContent = "";
    });
  }

  // A message about connecting goes on the card it concerns (the page's top otherwise).
  // The card is looked up by id and the message kept: a live refresh may replace the
  // card while the CRM's window is open or just after it closed.
  function showOnCard(cardId, text) {
    const card = cardId && document.getElementById(cardId);
    const box = card && card.querySelector("[data-card-message]");
    if (!box) { showError(text); return; }
    cardMessage = { cardId, text };
    box.textContent = text;
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function restoreCardMessage() {
    const box = cardMessage && document.querySelector(`#${cardMessage.cardId} [data-card-message]`);
    if (!box) return;
    box.textContent = cardMessage.text;
    box.hidden = false;
  }

  // Re-render the page's live regions from a fresh copy of the page, without a reload.
  async function refresh() {
    if (refreshing || document.querySelector("dialog[open]")) return;
    refreshing = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (response.redirected || !response.ok) { window.location.reload(); return; }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      document.querySelectorAll("[data-region]").forEach((region) => {
        const next = fresh.getElementById(region.id);
        // a log the user is reading (focus inside) is left alone until they move on
        const reading = region.hasAttribute("data-refresh-on-change") && region.contains(document.activeElement);
        if (next && !reading) region.replaceWith(next);
      });
      restoreCardMessage();
      const token = fresh.querySelector('meta[name="csrf-token"]');
      if (token) document.querySelector('meta[name="csrf-token"]').content = token.content;
    } finally {
      refreshing = false;
    }
  }

  // Connect / Reconnect: ask the server for the CRM's authorize URL, open it in a popup.
  async function authorize(form) {
    const name = form.dataset.providerName || "your CRM";
    clearError();
    const card = form.closest(".card");
    popupCard = card ? card.id : null;
    popup = window.open("", "crmsync-oauth", "popup=yes,width=620,height=760");
    if (popup) {
      popup.document.title = `Opening ${name}…`;
      popup.document.body.textContent = `Opening ${name}…`;
    }
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf(), Accept: "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok || !body.authorize_url) throw new Error(body.detail || "Could not start connecting.");
      if (!popup || popup.closed) {
        showError(`Your browser blocked the ${name} window. Allow pop-ups for this site and try again.`);
        return;
      }
      popup.location.href = body.authorize_url;
      announce(`${name} opened in a new window.`);
      window.clearInterval(popupWatch);
      popupWatch = window.setInterval(() => {
        if (!popup || popup.closed) { window.clearInterval(popupWatch); refresh(); }
      }, 500);
    } catch (error) {
      if (popup) popup.close();
      showError(error.message);
    } finally {
      if (button) button.disabled = false;
    }
  }

  // The callback page in the popup tells us how it went, then closes itself.
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== window.location.origin || !data || data.type !== "crmsync:oauth") return;
    if (data.ok === true || data.ok === "true") {
      cardMessage = null;
      announce("Connected.");
      refresh();
    } else {
      window.clearInterval(popupWatch); // nothing changed: keep the message, no redraw
      const text = data.error || "The CRM did not grant access.";
      showOnCard(popupCard, text);
      announce(text);
    }
  });

  // A provider's step-by-step guide before authorising.
  function openSteps(dialog, form) {
    const steps = Array.from(dialog.querySelectorAll("[data-step]"));
    const count = dialog.querySelector("[data-step-count]");
    const back = dialog.querySelector("[data-step-back]");
    const next = dialog.querySelector("[data-step-next]");
    const go = dialog.querySelector("[data-step-go]");
    let index = 0;
    const show = (i) => {
      index = i;
      steps.forEach((step, j) => { step.hidden = j !== i; });
      count.textContent = `Step ${i + 1} of ${steps.length}`;
      back.hidden = i === 0;
      next.hidden = i === steps.length - 1;
      go.hidden = i !== steps.length - 1;
      const heading = steps[i].querySelector("h3");
      if (dialog.open && heading) heading.focus();
    };
    back.onclick = () => show(Math.max(0, index - 1));
    next.onclick = () => show(Math.min(steps.length - 1, index + 1));
    go.onclick = () => { dialog.close(); authorize(form); };
    show(0);
    dialog.showModal();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-popup]");
    if (!form) return;
    event.preventDefault();
    const guide = form.dataset.steps && document.getElementById(form.dataset.steps);
    if (guide) openSteps(guide, form); else authorize(form);
  });

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog) dialog.showModal();
    }
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });

  // Mappings: "Add a mapping" copies the blank row, with the next row number.
  function addMappingRow(button) {
    const blank = document.querySelector("#mapping-table [data-new-row]");
    if (!blank) return;
    const rows = blank.parentElement;
    const index = rows.querySelectorAll("tr[data-row]").length;
    const copy = blank.cloneNode(true);
    copy.dataset.row = String(index);
    copy.querySelectorAll("[id]").forEach((el) => { el.id = el.id.replace(/-\d+$/, `-${index}`); });
    copy.querySelectorAll("label[for]").forEach((el) => {
      el.htmlFor = el.htmlFor.replace(/-\d+$/, `-${index}`);
      el.textContent = el.textContent.replace(/row \d+$/, `row ${index + 1}`);
    });
    copy.querySelectorAll("select").forEach((el) => { el.selectedIndex = el.name === "canonical" ? 1 : 0; });
    copy.querySelectorAll("input[type=checkbox]").forEach((el) => { el.checked = false; el.value = String(index); });
    copy.querySelectorAll("input:not([type])").forEach((el) => { el.value = ""; });
    rows.appendChild(copy);
    copy.querySelector("select, input:not([type=hidden])").focus();
    button.blur();
  }
  const adder = document.querySelector("[data-add-row]");
  if (adder) {
    adder.hidden = false;
    adder.addEventListener("click", () => addMappingRow(adder));
  }
  const problems = document.getElementById("mapping-problems");
  if (problems) problems.focus();

  // Toggles save as soon as they change (the page comes back with a confirmation).
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // Live counts: poll the connection's status; redraw when its state changes.
  const countsKey = (c) => (c ? `${c.synced}|${c.pending}|${c.failed}|${c.skipped}` : "");
  function applyStatus(region, status) {
    if (status.redraw !== region.dataset.redraw) { refresh(); return; }
    const counts = countsKey(status.counts);
    if (region.hasAttribute("data-refresh-on-change") && counts !== region.dataset.counts) {
      region.dataset.counts = counts;
      refresh();
    }
    if (!status.counts) return;
    document.querySelectorAll("[data-count]").forEach((el) => {
      const value = status.counts[el.dataset.count];
      if (value === undefined) return;
      el.textContent = value.toLocaleString("en-US");
      const stat = el.closest("[data-tone]");
      if (stat) stat.classList.toggle(stat.dataset.tone, value > 0);
    });
    const backfill = status.backfill;
    const bar = document.querySelector("[data-backfill-bar]");
    if (bar && backfill) {
      bar.max = backfill.total;
      bar.value = backfill.done;
      bar.textContent = `${backfill.done} of ${backfill.total}`;
      document.querySelector("[data-backfill-text]").textContent =
        `${backfill.done.toLocaleString("en-US")} of ${backfill.total.toLocaleString("en-US")} people`;
      document.querySelector("[data-backfill-estimate]").textContent =
        backfill.remaining ? (backfill.estimate ? `· ${backfill.estimate} left` : "· estimating…") : "· done";
    }
  }

  async function poll() {
    const region = document.querySelector("[data-status-url]");
    if (region && !document.hidden) {
      try {
        const response = await fetch(region.dataset.statusUrl, {
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-Requested-With": "fetch" },
        });
        if (response.ok) applyStatus(region, await response.json());
      } catch (_error) {
        // offline for a moment: try again on the next tick
      }
    }
    window.setTimeout(poll, POLL_MS);
  }

  window.setTimeout(poll, POLL_MS);
})();
