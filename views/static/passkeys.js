// Passkeys on the hosted pages (no inline script: the CSP allows scripts from 'self' only).
// Uses the @simplewebauthn/browser bundle served at /static/vendor/simplewebauthn-browser.js.
//
// - Sign-in (login page, and the second-factor step): an element with data-passkey="sign-in"
//   carries data-options, data-verify and data-csrf; its button starts a passkey sign-in, and with
//   data-conditional="yes" the browser also offers passkeys in the username field's autofill.
// - /account: the form with data-passkey="register" adds a passkey under the name typed in it.
// The server answers JSON: { redirect } to follow, or { message } to show (in the page's
// language). The script's own messages are the form's data-msg-* attributes, in the page's
// language too (locales/*.json `passkeys_script.*`); the English here is only a fallback.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;
  // WebAuthn's relying-party id is a domain: with an issuer at an IP address
  // (http://127.0.0.1:3000) no passkey can work, so none is offered.
  var host = window.location.hostname;
  if (/^[0-9.]+$/.test(host) || host.indexOf(':') !== -1 || host.charAt(0) === '[') return;

  /** The form's message `name` (data-msg-<name>), `{status}` filled in. */
  function say(form, name, fallback, status) {
    return (form.getAttribute('data-msg-' + name) || fallback).replace('{status}', String(status));
  }

  function show(box, text) {
    var el = box.querySelector('[data-passkey-error]');
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function post(form, url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res
        .json()
        .catch(function () {
          return {
            message:
              res.status === 403
                ? say(form, 'expired', 'This page has expired. Reload it and try again.')
                : say(form, 'failed', 'Something went wrong ({status}). Try again.', res.status),
          };
        })
        .then(function (data) {
          return { ok: res.ok, data: data };
        });
    });
  }

  /** A cancelled prompt (NotAllowedError, AbortError) is the user's choice, not an error to show. */
  function cancelled(error) {
    return error && (error.name === 'NotAllowedError' || error.name === 'AbortError' || error.code === 'ERROR_CEREMONY_ABORTED');
  }

  function fetchOptions(form) {
    var csrf = form.querySelector('input[name="csrf_token"]').value;
    return post(form, form.getAttribute('data-options'), { csrf_token: csrf }).then(function (options) {
      if (!options.ok) throw new Error(options.data.message || say(form, 'unavailable', 'Passkeys are not available right now.'));
      return options.data;
    });
  }

  /** Lets the authenticator sign `options` (fetched when not given) and posts the response in the form. */
  function signIn(form, conditional, options) {
    var remember = document.getElementById('remember');
    return (options ? Promise.resolve(options) : fetchOptions(form))
      .then(function (optionsJSON) {
        return lib.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: conditional });
      })
      .then(function (response) {
        form.querySelector('input[name="response"]').value = JSON.stringify(response);
        form.querySelector('input[name="remember"]').value = remember && remember.checked ? 'yes' : '';
        form.submit();
      })
      .catch(function (error) {
        // The autofill attempt runs unasked: only a sign-in the user started says what went wrong.
        if (!conditional && !cancelled(error)) show(form, error.message || say(form, 'not-used', 'The passkey could not be used.'));
      });
  }

  // The login page: the button, and the username field's autofill (conditional UI).
  var signInForm = document.querySelector('[data-passkey="sign-in"]');
  if (signInForm) {
    signInForm.hidden = false;
    signInForm.querySelector('button').addEventListener('click', function () {
      signIn(signInForm, false);
    });
    lib.browserSupportsWebAuthnAutofill().then(function (supported) {
      if (supported) signIn(signInForm, true);
    });
  }

  // The second step: shown when the account has a passkey (the options list them). The options
  // fetched to find out are used by the first click; a later click fetches new ones.
  var secondForm = document.querySelector('[data-passkey="second-factor"]');
  if (secondForm) {
    fetchOptions(secondForm)
      .then(function (options) {
        var pending = options;
        if (!options.allowCredentials || options.allowCredentials.length === 0) return;
        secondForm.hidden = false;
        secondForm.querySelector('button').addEventListener('click', function () {
          var use = pending;
          pending = undefined;
          signIn(secondForm, false, use);
        });
      })
      .catch(function () {
        /* no passkey button then: the code form still works */
      });
  }

  var registerForm = document.querySelector('[data-passkey="register"]');
  if (registerForm) {
    registerForm.hidden = false;
    registerForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var csrf = registerForm.querySelector('input[name="csrf_token"]').value;
      var name = registerForm.querySelector('input[name="name"]').value;
      var submit = registerForm.querySelector('button');
      submit.disabled = true;
      var password = registerForm.querySelector('input[name="current_password"]');
      post(registerForm, registerForm.getAttribute('data-options'), { csrf_token: csrf, current_password: password.value })
        .then(function (options) {
          if (!options.ok) throw new Error(options.data.message || say(registerForm, 'unavailable', 'Passkeys are not available right now.'));
          return lib.startRegistration({ optionsJSON: options.data });
        })
        .then(function (response) {
          return post(registerForm, registerForm.getAttribute('action'), { csrf_token: csrf, name: name, response: response });
        })
        .then(function (result) {
          if (result.ok && result.data.redirect) window.location.assign(result.data.redirect);
          else show(registerForm, result.data.message || say(registerForm, 'not-added', 'The passkey was not added.'));
        })
        .catch(function (error) {
          show(
            registerForm,
            cancelled(error) ? say(registerForm, 'none-added', 'No passkey was added.') : error.message || say(registerForm, 'add-failed', 'The passkey could not be added.'),
          );
        })
        .finally(function () {
          password.value = '';
          submit.disabled = false;
        });
    });
  }
})();
