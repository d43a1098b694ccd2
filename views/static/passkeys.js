// Passkeys on the hosted pages (no inline script: the CSP allows scripts from 'self' only).
// Uses the @simplewebauthn/browser bundle served at /static/vendor/simplewebauthn-browser.js.
//
// - Sign-in (login page, and the second-factor step): an element with data-passkey="sign-in"
//   carries data-options, data-verify and data-csrf; its button starts a passkey sign-in, and with
//   data-conditional="yes" the browser also offers passkeys in the username field's autofill.
// - /account: the form with data-passkey="register" adds a passkey under the name typed in it.
// The server answers JSON: { redirect } to follow, or { message } to show.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  function show(box, text) {
    var el = box.querySelector('[data-passkey-error]');
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res
        .json()
        .catch(function () {
          return { message: res.status === 403 ? 'This page has expired. Reload it and try again.' : 'Something went wrong (' + res.status + '). Try again.' };
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

  function signIn(box, conditional) {
    var csrf = box.getAttribute('data-csrf');
    var remember = document.getElementById('remember');
    return post(box.getAttribute('data-options'), { csrf_token: csrf })
      .then(function (options) {
        if (!options.ok) throw new Error(options.data.message || 'Passkeys are not available right now.');
        return lib.startAuthentication({ optionsJSON: options.data, useBrowserAutofill: conditional });
      })
      .then(function (response) {
        show(box, '');
        return post(box.getAttribute('data-verify'), { csrf_token: csrf, response: response, remember: !!(remember && remember.checked) });
      })
      .then(function (result) {
        if (result.ok && result.data.redirect) window.location.assign(result.data.redirect);
        else show(box, result.data.message || 'The passkey was not accepted.');
      })
      .catch(function (error) {
        if (!cancelled(error)) show(box, error.message || 'The passkey could not be used.');
      });
  }

  var signInBox = document.querySelector('[data-passkey="sign-in"]');
  if (signInBox) {
    signInBox.hidden = false;
    var button = signInBox.querySelector('button');
    if (button) {
      button.addEventListener('click', function () {
        signIn(signInBox, false);
      });
    }
    if (signInBox.getAttribute('data-conditional') === 'yes') {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (supported) signIn(signInBox, true);
      });
    }
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
      post(registerForm.getAttribute('data-options'), { csrf_token: csrf })
        .then(function (options) {
          if (!options.ok) throw new Error(options.data.message || 'Passkeys are not available right now.');
          return lib.startRegistration({ optionsJSON: options.data });
        })
        .then(function (response) {
          return post(registerForm.getAttribute('action'), { csrf_token: csrf, name: name, response: response });
        })
        .then(function (result) {
          if (result.ok && result.data.redirect) window.location.assign(result.data.redirect);
          else show(registerForm, result.data.message || 'The passkey was not added.');
        })
        .catch(function (error) {
          show(registerForm, cancelled(error) ? 'No passkey was added.' : error.message || 'The passkey could not be added.');
        })
        .finally(function () {
          submit.disabled = false;
        });
    });
  }
})();
