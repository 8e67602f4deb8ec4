package main

import "github.com/mediaflow/mediaflow/workspaces"

// maxActiveOf is each workspace's maxActive, by name, as the worker takes
// it (tasks.WorkerConfig.MaxActive, Worker.SetMaxActive on a reload).
func maxActiveOf(ws *workspaces.Config) map[string]int {
	out := map[string]int{}
	if ws == nil {
		return out
	}
	for _, w := range ws.Workspaces {
		if w.MaxActive > 0 {
			out[w.Name] = w.MaxActive
		}
	}
	return out
}
