// Sharing & privacy: who sees what (nobody by default), consent per category, export, erasure.
import { h, replace, field, segmented, showErrors, toast, nextId } from "../dom.js";
import { t, fmtDate } from "../i18n.js";
import { api, ApiError, OfflineError } from "../api.js";
import { session, loadConsents, setConsent, accountDeleted } from "../session.js";
import { showPage, summaryParts, weekText } from "../summaries.js";

const CATEGORIES = ["energy", "sleep", "food", "exercise", "alcohol", "activities"];
// What a share may hold, as the form offers it (insights are picked one by one: not here).
const SHARE_SCOPES = ["energy_trend", "sleep_regularity", "sales_quality_trend", "personal_note"];

function errorText(error) {
  return error instanceof OfflineError ? t("error.offline.action") : error.message || t("error.generic");
}

function confirmWithdraw(category) {
  return new Promise((resolve) => {
    const titleId = nextId("dlg");
    const form = h("form", null,
      h("p", null, t("privacy.withdraw.body", { category: t(`category.${category}`) })),
      segmented("keep", t("privacy.withdraw.existing"), [["keep", t("privacy.withdraw.keep")], ["delete", t("privacy.withdraw.delete")]], "keep"),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button", onclick: () => dialog.close() }, t("form.cancel")),
        h("button", { type: "submit", class: "button primary" }, t("privacy.withdraw.confirm"))),
    );
    const dialog = h("dialog", { class: "sheet", "aria-labelledby": titleId }, h("h2", { id: titleId }, t("privacy.withdraw.title", { category: t(`category.${category}`) })), form);
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = { delete_entries: form.querySelector('input[name="keep"]:checked').value === "delete" };
      dialog.close();
    });
    const opener = document.activeElement;
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function render(main) {
  const consentHost = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  const exportStatus = h("p", { class: "hint", role: "status" });
  const zipHost = h("div");
  let zipTimer = null;
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const deleteForm = h("form", { class: "delete-form" },
    // Lets password managers know whose password this is.
    h("input", { type: "email", name: "username", autocomplete: "username", value: session.me.email, hidden: true, readonly: true, tabindex: "-1", "aria-hidden": "true" }),
    field(t("privacy.delete.password"), password),
    h("div", { class: "check" }, h("input", { type: "checkbox", id: "delete-understand", name: "understand", required: true }), h("label", { for: "delete-understand" }, t("privacy.delete.understand"))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button danger" }, t("privacy.delete.button"))),
  );

  const whoHost = h("div", null, h("p", { class: "big" }, t("privacy.who.nobody")));
  const shareStatus = h("div", { role: "status" });
  const draftsHost = h("div", null, h("p", { class: "muted" }, t("common.loading")));
  const readsHost = h("div", null, h("p", { class: "muted" }, t("common.loading")));

  function shareForm() {
    const email = h("input", { type: "email", name: "coach_email", autocomplete: "off", required: true, inputmode: "email", spellcheck: "false", maxlength: "254" });
    const days = h("input", { type: "number", name: "expires_in_days", inputmode: "numeric", min: "1", max: "365", value: "90", required: true });
    const form = h("form", { class: "share-form", novalidate: true },
      field(t("share.email"), email),
      h("fieldset", { class: "check-list" },
        h("legend", null, t("share.scopes")),
        SHARE_SCOPES.map((scope) =>
          h("div", { class: "check" },
            h("input", { type: "checkbox", id: `scope-${scope}`, name: "scopes", value: scope, checked: scope !== "personal_note" }),
            h("label", { for: `scope-${scope}` }, t(`privacy.scope.${scope}`)),
          ),
        ),
      ),
      field(t("share.days"), days, { hint: t("share.days.hint") }),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, t("share.submit"))),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showErrors(form, {});
      replace(shareStatus);
      const scopes = [...form.querySelectorAll('input[name="scopes"]:checked')].map((box) => box.value);
      const errors = {};
      if (!email.value.trim() || !email.checkValidity()) errors.coach_email = [t("share.email.invalid")];
      if (!scopes.length) errors.scopes = [t("share.scopes.none")];
      const number = Number(days.value);
      if (!Number.isInteger(number) || number < 1 || number > 365) errors.expires_in_days = [t("share.days.invalid")];
      if (Object.keys(errors).length) {
        showErrors(form, errors);
        if (errors.scopes) toast(errors.scopes[0], { kind: "error" });
        return;
      }
      try {
        const grant = await api("/coaching/grants", { method: "POST", body: { coach_email: email.value.trim(), scopes, expires_in_days: number } });
        // The next invitation keeps the parts and days chosen (reset() would blank them).
        email.value = "";
        replace(shareStatus,
          h("p", null, t("share.sent", { email: grant.coach_email })),
          (grant.warnings || []).map((warning) => h("p", { class: "warning" }, t(`share.warning.${warning.code}`))),
        );
        await drawShares();
      } catch (error) {
        if (error instanceof ApiError && Object.keys(error.errors).length) showErrors(form, error.errors);
        replace(shareStatus, h("p", { class: "form-error" }, errorText(error)));
      }
    });
    return form;
  }

  // Drafts wait for the rep: every part can go, a note can be written, and only approval lets
  // the coach read it.
  function drawDrafts() {
    return showPage(draftsHost, "/coaching/summaries?status=draft", "share.drafts.none", (drafts) => drafts.map(draftCard));
  }

  function draftCard(summary) {
    const change = async (body) => {
      try {
        await api(`/coaching/summaries/${summary.id}`, { method: "PATCH", body });
        await drawDrafts();
        draftsHost.querySelector("h3")?.focus?.();
      } catch (error) {
        toast(errorText(error), { kind: "error" });
      }
    };
    const remove = (body, label) =>
      h("button", { type: "button", class: "button small", "aria-label": t("share.drafts.remove.label", { part: label }), onclick: () => change(body) }, t("share.drafts.remove"));
    const headingId = nextId("draft");
    let noteForm = null;
    if (summary.note !== null) {
      const note = h("textarea", { name: "note", rows: "3", maxlength: "2000" });
      note.value = summary.note;
      noteForm = h("form", { class: "note-form" },
        field(t("share.drafts.note"), note, { hint: t("share.drafts.note.hint") }),
        h("div", { class: "actions start" }, h("button", { type: "submit", class: "button small" }, t("share.drafts.note.save"))),
      );
      noteForm.addEventListener("submit", (event) => {
        event.preventDefault();
        change({ note: note.value });
      });
    }
    return h("article", { class: "draft", "aria-labelledby": headingId },
      h("h3", { id: headingId, tabindex: "-1" }, t("share.drafts.for", { coach: summary.coach_email, week: weekText(summary) })),
      h("p", { class: "hint" }, t("share.drafts.until", { date: fmtDate(new Date(summary.draft_expires_at), { day: "numeric", month: "long" }) })),
      summaryParts({ ...summary, note: null }, { onRemove: remove }),
      noteForm,
      h("div", { class: "actions" },
        h("button", {
          type: "button",
          class: "button primary",
          onclick: async () => {
            try {
              await api(`/coaching/summaries/${summary.id}/approve`, { method: "POST" });
              toast(t("share.drafts.approved", { coach: summary.coach_email }));
              await drawDrafts();
            } catch (error) {
              toast(errorText(error), { kind: "error" });
            }
          },
        }, t("share.drafts.approve")),
      ),
    );
  }

  // Every time a coach read a summary, newest first: the rep sees who looked, and when.
  function drawReads() {
    return showPage(readsHost, "/coaching/access-log?page_size=20", "share.reads.none", (reads) =>
      h("ul", { class: "plain-list" }, reads.map((read) =>
        h("li", null, t("share.reads.item", {
          coach: read.coach_name || read.coach_email,
          week: read.week,
          date: fmtDate(new Date(read.read_at), { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" }),
        })),
      )));
  }
  replace(
    main,
    h("h1", null, t("screen.privacy")),
    h("section", { class: "card", "aria-labelledby": "who-title" },
      h("h2", { id: "who-title", tabindex: "-1" }, t("privacy.who.title")),
      whoHost,
      h("ul", { class: "plain-list" },
        h("li", null, t("privacy.who.you")),
        h("li", null, t("privacy.who.employer")),
        h("li", null, t("privacy.who.coach")),
      ),
    ),
    h("section", { class: "card", "aria-labelledby": "share-title" },
      h("h2", { id: "share-title" }, t("share.title")),
      h("p", { class: "hint" }, t("share.intro")),
      shareForm(),
      shareStatus,
    ),
    h("section", { class: "card", "aria-labelledby": "drafts-title" },
      h("h2", { id: "drafts-title" }, t("share.drafts.title")),
      draftsHost,
    ),
    h("section", { class: "card", "aria-labelledby": "reads-title" },
      h("h2", { id: "reads-title" }, t("share.reads.title")),
      readsHost,
    ),
    h("section", { class: "card", "aria-labelledby": "consent-title" },
      h("h2", { id: "consent-title" }, t("privacy.consent.title")),
      h("p", { class: "hint" }, t("privacy.consent.intro")),
      consentHost,
    ),
    h("section", { class: "card", "aria-labelledby": "export-title" },
      h("h2", { id: "export-title" }, t("privacy.export.title")),
      h("p", null, t("privacy.export.body")),
      h("div", { class: "actions start" },
        h("button", { type: "button", class: "button", onclick: exportData }, t("privacy.export.button")),
        h("button", { type: "button", class: "button", onclick: exportZip }, t("privacy.export.zip")),
      ),
      exportStatus,
      zipHost,
    ),
    h("section", { class: "card danger-zone", "aria-labelledby": "delete-title" },
      h("h2", { id: "delete-title" }, t("privacy.delete.title")),
      h("p", null, t("privacy.delete.body")),
      deleteForm,
    ),
  );

  async function exportData() {
    exportStatus.textContent = t("privacy.export.working");
    try {
      const data = await api("/privacy/export");
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: `energytrack-export-${new Date().toISOString().slice(0, 10)}.json`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      exportStatus.textContent = t("privacy.export.done");
    } catch (error) {
      exportStatus.textContent = errorText(error);
    }
  }

  // The full export (JSON + a CSV per kind) is built in the background; the link is signed and
  // valid for a day.
  async function exportZip() {
    exportStatus.textContent = t("privacy.export.zip.working");
    replace(zipHost);
    try {
      let job = await api("/privacy/exports", { method: "POST" });
      const started = Date.now();
      const check = async () => {
        if (!main.isConnected) return;
        job = await api(`/privacy/exports/${job.id}`);
        if (job.status === "ready" && job.download_url) {
          exportStatus.textContent = t("privacy.export.zip.ready");
          replace(zipHost, h("a", { class: "button primary", href: new URL(job.download_url).pathname, download: "" }, t("privacy.export.zip.download")));
        } else if (job.status === "failed") {
          exportStatus.textContent = t("error.generic");
        } else if (Date.now() - started < 5 * 60 * 1000) {
          zipTimer = setTimeout(() => check().catch((error) => { exportStatus.textContent = errorText(error); }), 2000);
        } else {
          exportStatus.textContent = t("privacy.export.zip.slow");
        }
      };
      await check();
    } catch (error) {
      exportStatus.textContent = errorText(error);
    }
  }

  deleteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/privacy/account/delete", { method: "POST", body: { password: password.value } });
    } catch (error) {
      // The server's words are English: the two answers a rep meets here get the app's own.
      if (error instanceof ApiError && error.errors.password) showErrors(deleteForm, { password: [t("privacy.delete.wrong")] });
      else if (error instanceof ApiError && error.status === 429) showErrors(deleteForm, { password: [t("login.throttled")] });
      else if (error instanceof ApiError && Object.keys(error.errors).length) showErrors(deleteForm, error.errors);
      else showErrors(deleteForm, { password: [errorText(error)] });
      return;
    }
    await accountDeleted();
    toast(t("privacy.delete.done"));
    location.assign("/app/login");
  });

  async function drawConsents() {
    let rows = session.consentRows;
    try {
      await loadConsents({ fresh: true });
      rows = session.consentRows;
    } catch (error) {
      replace(consentHost, h("p", { class: "muted" }, errorText(error)));
      return;
    }
    if (!rows) {
      replace(consentHost, h("p", { class: "muted" }, t("privacy.consent.offline")));
      return;
    }
    const byCategory = Object.fromEntries(rows.map((row) => [row.category, row]));
    replace(
      consentHost,
      h("ul", { class: "consent-list" },
        CATEGORIES.filter((c) => byCategory[c]).map((category) => {
          const row = byCategory[category];
          const labelId = `consent-${category}`;
          const explainId = `consent-${category}-explain`;
          const toggle = h("button", {
            type: "button",
            class: "switch",
            role: "switch",
            "aria-checked": row.granted ? "true" : "false",
            "aria-labelledby": labelId,
            "aria-describedby": explainId,
          }, h("span", { class: "switch-state", "aria-hidden": "true" }, row.granted ? t("privacy.consent.on") : t("privacy.consent.off")));
          toggle.addEventListener("click", async () => {
            try {
              if (row.granted) {
                const answer = await confirmWithdraw(category);
                if (!answer) return;
                const result = await api(`/privacy/consents/${category}/withdraw`, { method: "POST", body: answer });
                toast(answer.delete_entries ? t("privacy.withdraw.deleted", { count: result.entries_deleted }) : t("privacy.withdraw.kept"));
              } else {
                await api(`/privacy/consents/${category}/grant`, { method: "POST" });
                toast(t("privacy.consent.granted", { category: t(`category.${category}`) }));
              }
              setConsent(category, !row.granted);
              await drawConsents();
              consentHost.querySelector(`[aria-labelledby="${labelId}"]`)?.focus();
            } catch (error) {
              toast(errorText(error), { kind: "error" });
            }
          });
          return h("li", { class: "consent" },
            h("div", { class: "consent-text" },
              h("span", { class: "consent-label", id: labelId }, t(`category.${category}`)),
              h("span", { class: "hint", id: explainId }, t(`category.${category}.explain`)),
            ),
            toggle,
          );
        }),
      ),
    );
  }
  // Coaching shares: who else sees what (a summary the rep approved, never raw entries).
  async function drawShares() {
    let grants = [];
    try {
      grants = (await api("/coaching/grants")).filter((g) => g.status === "active" || g.status === "pending");
    } catch (error) {
      if (!(error instanceof OfflineError) && !(error instanceof ApiError && error.status === 404)) console.warn(error);
      return; // keep the plain statement; offline it cannot be checked
    }
    if (!grants.length) {
      replace(whoHost, h("p", { class: "big" }, t("privacy.who.nobody")), h("p", null, t("privacy.who.noshares")));
      return;
    }
    replace(
      whoHost,
      h("p", { class: "big" }, t("privacy.who.shared", { count: grants.length })),
      h("ul", { class: "share-list" },
        grants.map((grant) =>
          h("li", { class: "share" },
            h("p", null, h("strong", null, grant.coach_name || grant.coach_email), " · ", t(`privacy.share.status.${grant.status}`)),
            h("p", { class: "hint" }, t("privacy.share.what", { scopes: grant.scopes.map((scope) => t(`privacy.scope.${scope}`)).join(", ") })),
            h("p", { class: "hint" }, t("privacy.share.until", { date: fmtDate(new Date(grant.expires_at), { day: "numeric", month: "long", year: "numeric" }) })),
            h("button", {
              type: "button",
              class: "button small danger",
              onclick: async () => {
                try {
                  await api(`/coaching/grants/${grant.id}/revoke`, { method: "POST" });
                  toast(t("privacy.share.revoked"));
                  await drawShares();
                  main.querySelector("#who-title").focus?.();
                } catch (error) {
                  toast(errorText(error), { kind: "error" });
                }
              },
            }, t("privacy.share.revoke")),
          ),
        ),
      ),
    );
  }
  drawConsents();
  drawShares();
  drawDrafts();
  drawReads();
  return () => clearTimeout(zipTimer);
}
