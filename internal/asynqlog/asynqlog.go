// Package asynqlog sends asynq's own log lines through zerolog, so a
// worker writes one format.
package asynqlog

import (
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
)

// Logger is an asynq.Logger writing to a zerolog logger.
type Logger struct{ L zerolog.Logger }

func (a Logger) Debug(args ...any) { a.L.Debug().Msg(fmt.Sprint(args...)) }
func (a Logger) Info(args ...any)  { a.L.Info().Msg(fmt.Sprint(args...)) }
func (a Logger) Warn(args ...any)  { a.L.Warn().Msg(fmt.Sprint(args...)) }
func (a Logger) Error(args ...any) { a.L.Error().Msg(fmt.Sprint(args...)) }
func (a Logger) Fatal(args ...any) { a.L.Fatal().Msg(fmt.Sprint(args...)) }

// Level is the asynq log level matching a zerolog level.
func Level(l zerolog.Level) asynq.LogLevel {
	switch {
	case l <= zerolog.DebugLevel:
		return asynq.DebugLevel
	case l == zerolog.InfoLevel:
		return asynq.InfoLevel
	case l == zerolog.WarnLevel:
		return asynq.WarnLevel
	case l == zerolog.ErrorLevel:
		return asynq.ErrorLevel
	}
	return asynq.FatalLevel
}
