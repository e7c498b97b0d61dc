"""The one outbox and everything that fills or drains it: templates, dispatch, campaigns,
reminders, subscriptions and the marketing cap."""
