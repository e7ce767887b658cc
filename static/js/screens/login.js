// Sign in with e-mail and password (Django session + CSRF).
import { h, replace, field } from "../dom.js";
import { t, lang } from "../i18n.js";
import { ApiError, OfflineError } from "../api.js";
import { login, updateMe } from "../session.js";

export async function render(main, { navigate }) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, inputmode: "email", spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "form-error", role: "alert", id: "login-error", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary wide" }, t("login.submit"));
  const form = h("form", { class: "card login-form", "aria-describedby": "login-error" }, field(t("login.email"), email), field(t("login.password"), password), error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const me = await login(email.value.trim(), password.value);
      // Insights and notifications are written in the language this app shows.
      if (me.locale !== lang()) await updateMe({ locale: lang() }).catch(() => null);
      // Signing in on the way to a coach's invitation goes back to it.
      navigate(sessionStorage.getItem("et.coachInvite") ? "coach-invite" : "today", { replace: true });
    } catch (err) {
      error.textContent = err instanceof OfflineError ? t("login.offline") : err instanceof ApiError && err.status === 400 ? t("login.failed") : err instanceof ApiError && err.status === 429 ? t("login.throttled") : t("error.generic");
      error.hidden = false;
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h("h1", null, t("login.title")), h("p", { class: "hint" }, t("login.intro")), form);
}
