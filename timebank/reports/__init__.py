"""Coordinators' dashboard, the overdue-visit safety net, and funder reports."""
