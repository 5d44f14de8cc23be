"""Amazon EC2 (the lab's VPC): security groups, instances and network interfaces."""
