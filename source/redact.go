package source

import "strings"

// userinfo splits the credentials out of a URL by hand — whatever its
// scheme's case, and whether or not it parses as a URL, so a malformed one
// never carries a password into an error: rest is the URL without
// userinfo, put back the user, if any, with withUser.
func userinfo(raw string) (user, pass string, withUser func(user string) string) {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return "", "", func(string) string { return raw }
	}
	info, host := raw[start:start+at], raw[start+at+1:]
	user, pass, _ = strings.Cut(info, ":")
	return user, pass, func(u string) string {
		if u == "" {
			return raw[:start] + host
		}
		return raw[:start] + u + "@" + host
	}
}

// RedactURL removes any password from a URL, for display: the user stays,
// the password becomes "xxxxx". It works on any string, whatever the
// scheme's case and whether it parses as a URL.
func RedactURL(raw string) string {
	user, pass, with := userinfo(raw)
	if pass == "" {
		return raw
	}
	return with(user + ":xxxxx")
}
