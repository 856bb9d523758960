// URL and URLSearchParams cases: the k6 test `jslib_url_matches_nodes_url`
// runs `exercise` with volley's jslib url module and with Node.js's own
// URL (the WHATWG URL Standard's), and compares the two results.
export const CASES = [
  ['http://example.com'], ['HTTP://EXAMPLE.COM:80/a/b?c=d#e'], ['https://user:pa ss@host:8443/p/a/t/h?query=1&b=2#frag'],
  ['http://127.0.0.1:8080/x'], ['http://0x7f.1/'], ['http://2130706433/'], ['http://0177.0.0.1/'], ['http://256.0.0.1/'],
  ['http://[::1]:3000/'], ['http://[2001:DB8:0:0:0:0:0:1]/'], ['http://[1:0:0:2:0:0:0:3]/'], ['http://[::ffff:192.168.1.1]/'], ['http://[1::]/'], ['http://[::]/'],
  ['http://[1:2:3:4:5:6:7::8]/'], ['http://[1:2:3:4:5:6:7::]/'],
  ['http://ex ample.com/'], ['http://exa%41mple.com/'], ['http://ß.de/'], ['http://münchen.de/straße?ä=ö#ü'],
  ['http://h/a/./b/../c/%2e%2E/d'], ['http://h/a/b/..'], ['http://h/a/b/.'], ['http://h\\a\\b'], ['http:example.com/x'],
  ['http://h/p?q=a b"c<d>\'#f g`'], ['ws://h:80/'], ['wss://h:443/s'], ['ftp://h:21/'], ['http://h:65536/'], ['http://h:0x1/'], ['http://h:/'],
  ['file:///etc/hosts'], ['file://localhost/etc'], ['file://server/share/x'], ['mailto:someone@example.com?subject=hi'],
  ['data:text/plain,hello world'], ['foo://host:123/p?q#f'], ['foo:/a/../b'], ['urn:isbn:123'], ['javascript:alert(1)'],
  ['  http://h/trim  '], ['http://h/t\tab\nnl'], ['http://@h/'], ['http://u@/'], ['http://'], ['http:///h/p'], ['//h/x'], ['x'],
  ['/path?x=1', 'http://base.com/a/b?c#d'], ['rel', 'http://base.com/a/b?c#d'], ['../up', 'http://base.com/a/b/c'], ['?q2', 'http://base.com/a/b?c#d'],
  ['#f2', 'http://base.com/a/b?c#d'], ['', 'http://base.com/a/b?c#d'], ['//other.com/p', 'https://base.com/a'], ['http:rel', 'http://base.com/a/b'],
  ['https:rel', 'http://base.com/a/b'], ['./x/./y/../z', 'http://b.com/a/'], ['#x', 'mailto:a@b'], ['y', 'mailto:a@b'], ['..', 'http://b.com/'],
  ['http://h/%zz%41'], ['http://h/😀?😀#😀'], ['http://user:p@ss:w@h/'], ['http://h/a?b=%41&c=+'], ['HTTPS://H.COM:443'], ['http://1.2.3/'], ['http://1.2.3.4.5/'],
  ['http://foo.0x/'], ['http://foo.09/'], ['http://h./'], ['http://[::1/'], ['http://[zz::1]/'], ['http://a^b/'], ['http://h/^'], ['non-spec://h/^?^#^'],
];
function fields(u) {
  return { href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash, params: [...u.searchParams] };
}
export function exercise(URL, URLSearchParams) {
  const out = [];
  for (const [input, base] of CASES) {
    try { out.push(fields(base === undefined ? new URL(input) : new URL(input, base))); } catch (e) { out.push(`error ${e instanceof TypeError}`); }
  }
  out.push(URL.canParse('x'), URL.canParse('x', 'http://a/'));
  // setters
  const u = new URL('http://user@h.com:81/p?a=1#h');
  const steps = [['protocol', 'https'], ['protocol', 'foo'], ['username', 'n a'], ['password', 'p@'], ['host', 'other.com:8080'], ['hostname', 'x.y'], ['port', '443'], ['port', '99999'], ['port', '12ab'],
    ['port', ''], ['pathname', 'a b/../c'], ['search', 'x=1&y=2 3'], ['hash', 'new hash'], ['search', ''], ['hash', ''], ['host', 'h:'], ['href', 'ws://w/1?z']];
  for (const [k, v] of steps) { u[k] = v; out.push([k, v, u.href, [...u.searchParams]]); }
  // params
  const p = new URLSearchParams('?a=1&b=2&a=3&c=%zz&d=x+y&e=%E2%82%AC&&f&=g');
  out.push([...p], p.get('a'), p.getAll('a'), p.get('nope'), p.has('a', '3'), p.has('a', '9'), p.size);
  p.append('z', 'a b&c=d/é*-._!~\'()'); p.set('a', 'one'); p.delete('b'); p.delete('c', 'no'); p.sort();
  out.push(p.toString(), [...p.keys()], [...p.values()]);
  const seen = []; p.forEach((v, k) => seen.push(k + '=' + v)); out.push(seen);
  out.push(new URLSearchParams({ x: 1, y: 'two' }).toString(), new URLSearchParams([['k', 'v'], ['k', 'w']]).toString(), new URLSearchParams(p).toString());
  try { new URLSearchParams([['only']]); out.push('no error'); } catch (e) { out.push(`error ${e instanceof TypeError}`); }
  const v = new URL('http://h/?q=1'); v.searchParams.append('r', 's t'); out.push(v.href); v.searchParams.delete('q'); v.searchParams.delete('r'); out.push(v.href, v.search);
  const w = new URL('http://h/'); w.search = '?a=b'; out.push(w.searchParams.get('a'), String(w), JSON.stringify({ w }));
  out.push(new URL(new URL('http://h/a'), 'http://ignored/').href, new URL('b', new URL('http://h/a/')).href);
  return out;
}
