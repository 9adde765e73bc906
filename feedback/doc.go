// Package feedback will hold feedback events, reviews, item history and
// agreement: append-only records of who accepted, rejected, corrected or
// commented on what. It is empty in the foundation release; the review and
// audit issue fills it.
package feedback
