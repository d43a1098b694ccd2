// Loads each application's front-channel logout URI in a hidden iframe, then continues to where
// the sign-out leads once all have loaded, or after data-wait-ms at the latest. The frames are
// made here so their load listeners exist before they start loading.
const list = document.getElementById('frontchannel-frames');
const next = document.getElementById('continue');
if (list && next) {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    window.location.replace(next.href);
  };
  const sources = [...list.querySelectorAll('li[data-src]')].map((item) => item.dataset.src);
  let pending = sources.length;
  for (const src of sources) {
    const frame = document.createElement('iframe');
    frame.hidden = true;
    // The page's language: the list carries the frames' title (locales/*.json).
    frame.title = list.dataset.frameTitle || 'Signing out of an application';
    frame.addEventListener('load', () => {
      pending -= 1;
      if (pending === 0) finish();
    });
    frame.src = src;
    document.body.appendChild(frame);
  }
  if (pending === 0) finish();
  setTimeout(finish, Number(list.dataset.waitMs) || 3000);
}
