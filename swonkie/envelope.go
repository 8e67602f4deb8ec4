package swonkie

import (
	"bytes"
	"encoding/json"
	"errors"
)

// listEnvelope is what readList found around a list.
type listEnvelope struct {
	Page, Limit, Total int
	More               *bool
}

// readList decodes a list answer whose envelope is not documented: a bare
// array, or an object with the list under data, items, posts or results and
// its paging at the top level or under meta or pagination.
func readList(raw json.RawMessage, into any) (listEnvelope, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return listEnvelope{}, nil
	}
	if raw[0] == '[' {
		return listEnvelope{}, json.Unmarshal(raw, into)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return listEnvelope{}, errors.New("list answer is neither an array nor an object")
	}
	found := false
	for _, k := range []string{"data", "items", "posts", "results", "profiles", "labels"} {
		if v, ok := obj[k]; ok && len(bytes.TrimSpace(v)) > 0 && bytes.TrimSpace(v)[0] == '[' {
			if err := json.Unmarshal(v, into); err != nil {
				return listEnvelope{}, err
			}
			found = true
			break
		}
	}
	if !found {
		return listEnvelope{}, errors.New("list answer holds no list")
	}
	var env listEnvelope
	readPaging(obj, &env)
	for _, k := range []string{"meta", "pagination"} {
		if v, ok := obj[k]; ok {
			var inner map[string]json.RawMessage
			if json.Unmarshal(v, &inner) == nil {
				readPaging(inner, &env)
			}
		}
	}
	return env, nil
}

func readPaging(obj map[string]json.RawMessage, env *listEnvelope) {
	num := func(keys ...string) int {
		for _, k := range keys {
			var n int
			if v, ok := obj[k]; ok && json.Unmarshal(v, &n) == nil {
				return n
			}
		}
		return 0
	}
	if n := num("page", "currentPage"); n > 0 {
		env.Page = n
	}
	if n := num("limit", "perPage", "pageSize"); n > 0 {
		env.Limit = n
	}
	if n := num("total", "totalCount", "totalItems"); n > 0 {
		env.Total = n
	}
	for _, k := range []string{"hasMore", "hasNext", "hasNextPage"} {
		var b bool
		if v, ok := obj[k]; ok && json.Unmarshal(v, &b) == nil {
			env.More = &b
		}
	}
}
