package tasks

import (
	"reflect"
	"time"
)

// Compacting a finished record: when a write packs a record that owes
// nothing (it is then kept as is until retention deletes it, days later),
// every time it holds is cut to the millisecond first. The digits past
// the millisecond do not compress (they are ~55 of a single-media
// publication's ~470 packed bytes) and are nobody's business once the
// pipeline is over; the request's own times stay as they were asked.

var timeType = reflect.TypeFor[time.Time]()

// compactTimes cuts r's times to the millisecond, but for its request's
// (Request, and in.Edited, the request as edits left it). What it changes
// it copies first, so records sharing parts with r (the one it was cloned
// from) are left as they are.
func compactTimes(r *Record) {
	v := reflect.ValueOf(r).Elem()
	t := v.Type()
	for i := range v.NumField() {
		if f := t.Field(i); f.IsExported() && f.Name != "Request" {
			toMillis(v.Field(i))
		}
	}
	edited := r.in.Edited
	toMillis(reflect.ValueOf(&r.in).Elem())
	r.in.Edited = edited
	toMillis(reflect.ValueOf(&r.events).Elem())
}

// compactEvents is compactTimes of events alone, into a copy.
func compactEvents(evs []Event) []Event {
	out := append([]Event(nil), evs...)
	toMillis(reflect.ValueOf(&out).Elem())
	return out
}

// toMillis cuts the times v holds to the millisecond, replacing (never
// changing in place) what pointers and slices lead to. Unexported fields
// and maps are left alone.
func toMillis(v reflect.Value) {
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Truncate(time.Millisecond)))
			return
		}
		for i := range v.NumField() {
			toMillis(v.Field(i))
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		toMillis(c.Elem())
		v.Set(c)
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			toMillis(c.Index(i))
		}
		v.Set(c)
	case reflect.Array:
		for i := range v.Len() {
			toMillis(v.Index(i))
		}
	}
}
