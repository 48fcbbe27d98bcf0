"""How a message leaves oncall for a person: SMS through SNS (sms), email through SES
(email), each answering an Outcome (outcome) within the notification timeout, through
AWS clients made once (aws)."""
