// Submits a form marked data-auto-submit as soon as the page loads (the sign-out of a session
// the requesting application proved it belongs to), through its button so the button's
// name and value are sent. Without JavaScript the button does the same.
for (const form of document.querySelectorAll('form[data-auto-submit]')) {
  form.requestSubmit(form.querySelector('button[type="submit"]'));
}
