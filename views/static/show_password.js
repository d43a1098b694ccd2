// The "Show password" toggle next to password inputs (views/partials/password_toggle.ejs). The
// button is rendered hidden: without JavaScript there is nothing to press and the field is an
// ordinary password field. aria-pressed tells assistive technology whether the text shows.
document.querySelectorAll('button[data-show-password]').forEach((button) => {
  const input = document.getElementById(button.getAttribute('aria-controls'));
  if (!input) return;
  button.hidden = false;
  button.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    button.setAttribute('aria-pressed', String(show));
  });
  // A password field again before the form posts: password managers save what a password field held.
  input.form?.addEventListener('submit', () => {
    input.type = 'password';
    button.setAttribute('aria-pressed', 'false');
  });
});
