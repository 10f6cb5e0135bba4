# Look up a VPS by id and check whether it can be restored from another VPS now.
data "hostup_vps" "web" {
  id = "vps_01j9k2web00000000000000001"
}

output "web_name" {
  value = data.hostup_vps.web.name
}

output "web_disk_gb" {
  value = data.hostup_vps.web.storage_gb
}

# null when restores are allowed, otherwise HostUp's reason (for example an unpaid order).
output "web_restore_blocked_reason" {
  value = data.hostup_vps.web.restore_blocked_reason
}
