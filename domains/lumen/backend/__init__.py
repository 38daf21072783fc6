"""Lumen Home's backend systems as plain functions over a session: Orders (products, variants, orders, items and
fulfilments), Billing (payment methods, payments, refunds, invoices, charges), CRM (customers, contact details,
notes) and Scheduling (installation appointments and free slots). Each keeps its own invariants, whatever called
it; the pack's actions are the only writers."""
