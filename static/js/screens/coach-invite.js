// A coach opens the invitation a rep sent: accept it signed in, or create the account on the way.
import { h, replace, field, showErrors } from "../dom.js";
import { t } from "../i18n.js";
import { ApiError, OfflineError, problemCode } from "../api.js";
import { session, acceptCoachInvitation } from "../session.js";

// Kept for the detour through the sign-in screen; gone once the invitation is used.
const KEY = "et.coachInvite";

function inviteToken() {
  const fromLink = new URLSearchParams(location.search).get("token");
  if (fromLink) sessionStorage.setItem(KEY, fromLink);
  return fromLink || sessionStorage.getItem(KEY);
}

export async function render(main, { navigate }) {
  const token = inviteToken();
  const heading = h("h1", null, t("coach.invite.title"));
  if (!token) {
    replace(main, heading, h("p", null, t("coach.invite.missing")));
    return;
  }
  const error = h("p", { class: "form-error", role: "alert", id: "invite-error", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary wide" }, t("coach.invite.accept"));
  const form = h("form", { class: "card", "aria-describedby": "invite-error" });
  const signIn = h("button", { type: "button", class: "button wide", hidden: true, onclick: () => navigate("login") }, t("coach.invite.signin"));

  if (session.me) {
    form.append(h("p", null, t("coach.invite.as", { email: session.me.email })), error, submit);
  } else {
    const name = h("input", { type: "text", name: "display_name", autocomplete: "name", maxlength: "120" });
    const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "8" });
    form.append(
      h("p", { class: "hint" }, t("coach.invite.new")),
      field(t("coach.invite.name"), name),
      field(t("coach.invite.password"), password),
      error,
      submit,
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const body = { token };
    if (!session.me) {
      body.password = form.querySelector("input[name=password]").value;
      body.display_name = form.querySelector("input[name=display_name]").value.trim();
    }
    try {
      await acceptCoachInvitation(body);
      sessionStorage.removeItem(KEY);
      history.replaceState({}, "", "/app/coach-invite");
      navigate("coach", { replace: true });
    } catch (err) {
      const code = err instanceof ApiError ? problemCode(err.body) : undefined;
      if (err instanceof ApiError && err.errors.password) {
        showErrors(form, { password: err.errors.password });
      } else {
        error.textContent = err instanceof OfflineError ? t("error.offline.action") : err instanceof ApiError && err.status === 403 ? t("coach.invite.other") : err.message;
        error.hidden = false;
      }
      // An account exists for this address: sign in first, then this screen comes back.
      signIn.hidden = code !== "sign-in-required";
      // A used, withdrawn, expired or unknown invitation cannot be retried.
      const spent = ["invitation-used", "invitation-withdrawn", "invitation-expired"].includes(code);
      if (code !== "sign-in-required" && (spent || (err instanceof ApiError && err.errors.token))) {
        sessionStorage.removeItem(KEY);
        submit.hidden = true;
      }
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, heading, h("p", null, t("coach.invite.intro")), form, signIn);
}
