// The request path as log lines show it: without the query string (codes, id_token_hints and
// login hints travel there) and without interaction ids, which are the values of the
// `_interaction` and `_interaction_resume` cookies.
export function loggedPath(url: string): string {
  return (url.split('?')[0] ?? '').replace(/^\/(interaction|auth)\/[^/]+/, '/$1/:uid');
}
