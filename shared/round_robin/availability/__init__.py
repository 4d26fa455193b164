"""Who can take a ticket now: availability, working hours and capacity as pure rules (no I/O).

model.py (the data), rules.py (eligibility and its precedence), schedules.py (working hours), zendesk_schedules.py
(import of Zendesk's business-hours schedules), rails_zones.py (Zendesk's time-zone names), localtime.py (dates in
a time zone), validation.py and errors.py (operator input and its mistakes). Everything takes `now` (epoch
seconds) as an argument.
"""
